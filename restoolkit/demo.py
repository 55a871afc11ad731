"""The demo: what a residual connection changes, on data the project generates."""

from __future__ import annotations

import time
from pathlib import Path


def residual_vs_plain(depth: int = 56, *, epochs: int = 4, n_train: int = 2048, batch_size: int = 64, seed: int = 0,
                      report_dir: str | Path = "runs/demo") -> dict:
    """Trains ``cifar_resnet{depth}`` and ``cifar_plain{depth}`` with the same budget and prints losses.

    Returns:
        ``{"resnet": [train losses], "plain": [...], "resnet_val_acc": float, "plain_val_acc": float}``.
    """
    import keras

    from restoolkit.datasets import oriented_gratings
    from restoolkit.models import count_params, create

    x, y = oriented_gratings(n_train + 512, seed=seed)
    x_train, y_train, x_val, y_val = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    results = {}
    for kind in ("resnet", "plain"):
        keras.utils.set_random_seed(seed)
        model = create(f"cifar_{kind}{depth}", num_classes=4)
        model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        print(f"training cifar_{kind}{depth} ({count_params(model)['trainable']:,} parameters)", flush=True)
        start = time.perf_counter()
        history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch_size,
                            verbose=2)
        results[kind] = history.history["loss"]
        results[f"{kind}_val_acc"] = history.history["val_accuracy"][-1]
        results[f"{kind}_seconds"] = time.perf_counter() - start
    lines = [f"# restoolkit demo: cifar_resnet{depth} vs its plain twin", "",
             "Oriented-grating images (generated, 4 classes), same optimiser, seed and budget.", "",
             "| epoch | resnet train loss | plain train loss |", "|---|---|---|"]
    for i, (r, p) in enumerate(zip(results["resnet"], results["plain"], strict=True), start=1):
        lines.append(f"| {i} | {r:.4f} | {p:.4f} |")
    lines += ["", f"Validation accuracy: resnet {results['resnet_val_acc']:.3f}, plain {results['plain_val_acc']:.3f}."]
    report = "\n".join(lines)
    print("\n" + report)
    results["markdown"] = report
    if report_dir is not None:
        out = Path(report_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.md").write_text(report + "\n")
        print(f"\nreport written to {out / 'report.md'}")
    return results


def run_all(out="runs/demo", *, quick: bool = False) -> Path:
    """The main job: the residual-vs-plain experiment and one end-to-end run of every installed domain on
    its embedded (generated) data, with a Markdown report of tables and pictures in ``out/report.md``.

    ``quick`` shrinks everything (used by the tests); the full run takes a few minutes on 2 CPU cores.
    Each call starts afresh in ``out`` (a previous demo there is removed), so no run resumes an old one.
    """
    import shutil

    from restoolkit.tasks import installed_apps

    out = Path(out).expanduser()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    timings, sections = {}, []

    def timed(name, fn, *args, **kwargs):
        t = time.perf_counter()
        print(f"\n=== {name} ===", flush=True)
        result = fn(*args, **kwargs)
        timings[name] = time.perf_counter() - t
        return result

    core = timed("residual vs plain", residual_vs_plain, 20 if quick else 56, epochs=1 if quick else 3,
                 n_train=256 if quick else 1024, report_dir=None)
    for name, app in installed_apps().items():
        if app.demo is not None:
            sections.append(timed(name, app.demo, out, quick))
    lines = [
        "# restoolkit demo", "",
        f"Everything below ran on generated data in {time.perf_counter() - start:.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())}). Command: `make demo`"
        + (" (quick settings)" if quick else "") + ".", "",
        "## 1. " + core["markdown"].removeprefix("# "), "",
    ]
    for number, section in enumerate(sections, start=2):
        lines += [section.replace("## ", f"## {number}. ", 1), ""]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    print(f"\nreport written to {path}")
    return path
