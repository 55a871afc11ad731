"""``mixed_precision="auto"``: bfloat16 only where the hardware computes it natively."""

import pytest

from restoolkit.training.precision import cpu_has_native_bfloat16, resolve_mixed_precision

SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
SKYLAKE = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl\n"


def test_cpu_flags_decide_without_a_gpu():
    assert cpu_has_native_bfloat16(SAPPHIRE_RAPIDS)
    assert not cpu_has_native_bfloat16(SKYLAKE)
    assert not cpu_has_native_bfloat16("")  # no /proc/cpuinfo (macOS, Windows): float32
    assert resolve_mixed_precision("auto", gpu_compute_capability=None, cpuinfo=SAPPHIRE_RAPIDS) == "mixed_bfloat16"
    assert resolve_mixed_precision("auto", gpu_compute_capability=None, cpuinfo=SKYLAKE) is None


@pytest.mark.parametrize(("capability", "expected"), [((7, 0), None), ((7, 5), None), ((8, 0), "mixed_bfloat16"),
                                                      ((9, 0), "mixed_bfloat16")])
def test_gpu_compute_capability_decides_on_a_gpu(capability, expected):
    # A V100 / T4 emulates bfloat16; Ampere and later compute it natively; the CPU does not matter then
    assert resolve_mixed_precision("auto", gpu_compute_capability=capability, cpuinfo=SAPPHIRE_RAPIDS) == expected


@pytest.mark.parametrize("policy", [None, "float32", "mixed_float16", "mixed_bfloat16"])
def test_explicit_policies_pass_through(policy):
    assert resolve_mixed_precision(policy, cpuinfo=SKYLAKE) == policy


def test_fit_records_what_auto_resolved_to(tmp_path):
    import json

    from restoolkit.datasets import oriented_gratings
    from restoolkit.training import fit

    x, y = oriented_gratings(32, size=16, seed=2)
    result = fit("cifar_resnet20", (x, y), epochs=1, run_dir=tmp_path, batch_size=16, mixed_precision="auto",
                 model_kwargs={"input_shape": (16, 16, 3), "num_classes": 4}, verbose=0)
    chosen = resolve_mixed_precision("auto")
    assert json.loads((tmp_path / "config.json").read_text())["fit"]["mixed_precision"] == chosen
    assert result.model.get_layer("stage1_block1").compute_dtype == ("bfloat16" if chosen else "float32")
