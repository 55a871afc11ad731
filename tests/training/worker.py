"""Subprocess entry points for the distributed-training tests (each needs a fresh TensorFlow runtime).

python worker.py mirrored|single OUT.npy
python worker.py multiworker INDEX PORTS OUT.npy [--no-fix]
python worker.py resumable RUN_DIR EPOCHS
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
mode = sys.argv[1]
if mode == "multiworker":
    index, ports = int(sys.argv[2]), sys.argv[3].split(",")
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

if mode == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from restoolkit.datasets import oriented_gratings  # noqa: E402
from restoolkit.training import fit, strategy  # noqa: E402


def flat_weights(model):
    return np.concatenate([np.asarray(w).ravel() for w in model.get_weights()])


def small_model():
    # Group norm: batch statistics would differ between one replica and two by design.
    from restoolkit.models import create

    return create("cifar_resnet20", input_shape=(16, 16, 3), num_classes=4, norm_layer={"name": "group_norm", "groups": 4})


x, y = oriented_gratings(128, size=16, seed=1)

if mode in ("mirrored", "single"):
    strat = strategy("mirrored", devices=["/cpu:0", "/cpu:1"]) if mode == "mirrored" else strategy("default")
    per_replica = 16 if mode == "mirrored" else 32  # same global batch of 32
    result = fit(small_model, (x, y), epochs=2, run_dir=sys.argv[3], strategy=strat, batch_size=per_replica, shuffle="--no-shuffle" not in sys.argv,
                 optimizer="sgd", learning_rate=0.05, weight_decay=0.0, seed=3, verbose=0)
    np.save(sys.argv[2], flat_weights(result.model))
    print(f"{mode}: replicas={strat.num_replicas_in_sync} global_batch={result.global_batch_size}")

elif mode == "multiworker":
    out = sys.argv[4]
    if "--no-fix" in sys.argv:
        strat = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strat = strategy("multiworker")
    keras.utils.set_random_seed(0)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    with strat.scope():
        model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(4)])
        model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(ds, epochs=2, verbose=0)  # plain Keras fit
    np.save(out, flat_weights(model))
    print(f"worker {sys.argv[2]} finished")

elif mode == "resumable":
    run_dir, epochs = sys.argv[2], int(sys.argv[3])

    class Slow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.15)  # makes epochs long enough to be killed in the middle of one

    fit(small_model, (x, y), epochs=epochs, run_dir=run_dir, strategy="default", batch_size=16, callbacks=[Slow()],
        verbose=0)
    print("finished")
else:
    raise SystemExit(f"unknown mode {mode}")
