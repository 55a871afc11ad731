import keras
import numpy as np
import pytest

from restoolkit.weights import from_keras_applications
from tests.conftest import randomize_norm_statistics


@pytest.mark.parametrize(
    "factory,include_top,shape",
    [
        (keras.applications.ResNet50, True, (65, 71, 3)),
        (keras.applications.ResNet50, False, (64, 64, 3)),
        (keras.applications.ResNet50V2, True, (65, 71, 3)),
        (keras.applications.ResNet101V2, False, (64, 64, 3)),
    ],
    ids=["resnet50_top_odd", "resnet50_features", "resnet50v2_top_odd", "resnet101v2_features"],
)
def test_from_keras_applications_reproduces_outputs(factory, include_top, shape):
    source = factory(weights=None, include_top=include_top, input_shape=shape, classes=7,
                     pooling=None if include_top else "avg")
    randomize_norm_statistics(source)
    ours = from_keras_applications(source)
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    expected = source.predict(x, verbose=0)
    got = ours.predict(x, verbose=0)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-4
    assert ours.count_params() == source.count_params()


def test_from_keras_applications_refuses_other_models():
    other = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="not a keras.applications ResNet"):
        from_keras_applications(other)
