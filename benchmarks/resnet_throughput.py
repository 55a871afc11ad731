"""Our ``resnet50_v1`` against keras.applications ResNet50 (the same network, built in the same run):
inference and training-step throughput in float32 and mixed_bfloat16, and achieved GFLOP/s against a
large matmul of the same dtype (how close to this CPU's limit each gets).

    python benchmarks/resnet_throughput.py [--batch 16] [--size 224] [--repeats 3]
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from restoolkit.models import count_macs, create  # noqa: E402


def timed(fn, repeats):
    fn()  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def matmul_gflops(dtype, n=2048, repeats=5):
    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    f = tf.function(lambda: tf.matmul(a, a))
    seconds = timed(lambda: f().numpy(), repeats)
    return 2 * n**3 / seconds / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, args.size, args.size, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, 1000, args.batch)
    print(f"# resnet50 throughput, batch {args.batch} at {args.size}x{args.size}; {platform.machine()}, "
          f"{os.cpu_count()} cores, TF {tf.__version__}, Keras {keras.__version__}")
    print("| dtype policy | model | inference img/s | train step img/s | inference GFLOP/s | % of matmul peak |")
    print("|---|---|---|---|---|---|")
    ratios = {}
    for policy, matmul_dtype in (("float32", tf.float32), ("mixed_bfloat16", tf.bfloat16)):
        peak = matmul_gflops(matmul_dtype)
        keras.config.set_dtype_policy(policy)
        try:
            results = {}
            for name, build in (("keras.applications ResNet50", lambda: keras.applications.ResNet50(
                    weights=None, input_shape=(args.size, args.size, 3))),
                                ("restoolkit resnet50_v1", lambda: create("resnet50_v1",
                                                                          input_shape=(args.size, args.size, 3)))):
                keras.utils.set_random_seed(0)
                model = build()
                macs = count_macs(model)
                infer = tf.function(lambda t, m=model: m(t, training=False), jit_compile=False)
                t_inf = timed(lambda f=infer: f(x).numpy(), args.repeats)
                model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
                model.train_on_batch(x, y)
                t_train = timed(lambda m=model: m.train_on_batch(x, y), args.repeats)
                gflops = 2 * macs * args.batch / t_inf / 1e9
                results[name] = (args.batch / t_inf, args.batch / t_train)
                print(f"| {policy} | {name} | {args.batch / t_inf:.1f} | {args.batch / t_train:.1f} | {gflops:.0f} | "
                      f"{100 * gflops / peak:.0f}% of {peak:.0f} |", flush=True)
            ours, theirs = results["restoolkit resnet50_v1"], results["keras.applications ResNet50"]
            ratios[policy] = (ours[0] / theirs[0], ours[1] / theirs[1])
        finally:
            keras.config.set_dtype_policy("float32")
    for policy, (inf, train) in ratios.items():
        print(f"\n{policy}: ours / keras.applications = {inf:.2f}x inference, {train:.2f}x training step")


if __name__ == "__main__":
    main()
