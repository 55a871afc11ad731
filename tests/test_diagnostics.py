"""The seed claims of the field, at initialisation on one fixed batch (deterministic)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from restoolkit import diagnostics as dx  # noqa: E402
from restoolkit.datasets import oriented_gratings  # noqa: E402
from restoolkit.models import create  # noqa: E402


@pytest.fixture(scope="module")
def batch():
    return oriented_gratings(64, seed=0)


def _spread(df):
    return df.grad_norm.max() / df.grad_norm.min()


def test_with_batch_norm_plain_gradients_explode_towards_the_input(batch):
    plain = dx.gradient_norms(create("cifar_plain56", num_classes=4, classifier_activation=None), batch)
    res = dx.gradient_norms(create("cifar_resnet56", num_classes=4, classifier_activation=None), batch)
    assert len(plain) == len(res) == 27 and list(plain.depth) == list(range(1, 28))
    assert _spread(plain) >= 10 * _spread(res)
    assert plain.grad_norm.iloc[0] > 100 * plain.grad_norm.iloc[-1]  # exploding, not vanishing


def test_without_normalisation_plain_first_block_gradient_is_tiny(batch):
    kw = {"num_classes": 4, "classifier_activation": None, "norm_layer": "none"}
    plain = dx.gradient_norms(create("cifar_plain56", **kw), batch)
    res = dx.gradient_norms(create("cifar_resnet56", **kw), batch)
    assert plain.grad_norm.iloc[0] * 1e4 <= res.grad_norm.iloc[0]


def test_branch_ratios_are_zero_for_zero_init_blocks(batch):
    x = batch[0][:8]
    df = dx.branch_ratios(create("cifar_resnet20", num_classes=4, zero_init_residual=True), x)
    assert len(df) == 9
    np.testing.assert_allclose(df.ratio, 0, atol=1e-7)
    df = dx.branch_ratios(create("cifar_resnet20", num_classes=4), x)
    assert (df.ratio > 0).all() and np.isfinite(df.ratio).all()


def test_lesion_removes_one_block_at_a_time(batch):
    x, y = batch
    model = create("cifar_resnet20", num_classes=4, zero_init_residual=True)
    df = dx.lesion(model, (x, y))
    assert len(df) == 10 and df.depth.tolist() == list(range(10))
    # Zero-initialised identity blocks contribute nothing: removing them changes nothing.
    identity_rows = df[df.shortcut == "identity"]
    assert (identity_rows.metric == df.metric.iloc[0]).all()
    assert set(df.shortcut[1:]) == {"identity", "zero_pad"}
    assert not any(b.lesioned for b in dx.residual_blocks(model))  # restored afterwards
    with pytest.raises(ValueError, match="cannot be lesioned"):
        dx.lesion(create("cifar_plain20", num_classes=4), (x, y))


def test_degradation_experiment_table_and_plot():
    df = dx.degradation_experiment(depths=(8,), epochs=1, n_train=64, n_val=32, batch_size=32)
    assert df[["depth", "kind"]].values.tolist() == [[8, "plain"], [8, "residual"]]
    assert df.train_error.between(0, 1).all() and df.val_error.between(0, 1).all()
    ax = dx.plot_degradation(df)
    assert len(ax.lines) == 4
    with pytest.raises(ValueError, match="6n \\+ 2"):
        dx.degradation_experiment(depths=(10,))
