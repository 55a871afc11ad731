"""A NumPy re-implementation of torchvision's / timm's ResNet forward pass, written from their layer names
and PyTorch's conventions (NCHW, OIHW kernels, symmetric padding, BN eps 1e-5, max pool 3/2/1 with -inf
padding, ResNet-D average pool 2/2 with ceil_mode and count_include_pad=False). It lets the weight-mapping
tests fail without PyTorch installed."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3))}


def conv(x, w, stride=1, pad=0):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]  # N C Ho Wo kh kw
    return np.einsum("nchwij,ocij->nohw", windows, w, optimize=True)


def bn(x, s, key):
    return ((x - s[f"{key}.running_mean"][None, :, None, None]) / np.sqrt(s[f"{key}.running_var"][None, :, None, None] + 1e-5)
            * s[f"{key}.weight"][None, :, None, None] + s[f"{key}.bias"][None, :, None, None])


def relu(x):
    return np.maximum(x, 0)


def maxpool(x):
    x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    return sliding_window_view(x, (3, 3), axis=(2, 3))[:, :, ::2, ::2].max(axis=(-1, -2))


def avgpool_ceil(x):
    """AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)."""
    n, c, h, w = x.shape
    ph, pw = h % 2, w % 2
    padded = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)))
    ones = np.pad(np.ones((h, w)), ((0, ph), (0, pw)))
    sums = padded.reshape(n, c, (h + ph) // 2, 2, (w + pw) // 2, 2).sum(axis=(3, 5))
    counts = ones.reshape((h + ph) // 2, 2, (w + pw) // 2, 2).sum(axis=(1, 3))
    return sums / counts


def se_channels(channels):
    """timm's SEModule width: make_divisible(channels / 16, 8) (round to a multiple of 8, never below 90%)."""
    v = channels / 16
    new = max(8, int(v + 4) // 8 * 8)
    return new + 8 if new < 0.9 * v else new


def make_state(depth, *, deep=False, se=False, num_classes=10, in_channels=3, seed=0):
    """A random state dict with torchvision (or timm ResNet-D / SE-ResNet) names and PyTorch layouts."""
    rng = np.random.default_rng(seed)
    s = {}

    def conv_w(key, o, i, k):
        s[key] = rng.normal(0, np.sqrt(2 / (i * k * k)), (o, i, k, k)).astype("float32")

    def bn_w(key, c):
        s[f"{key}.weight"] = rng.uniform(0.5, 1.5, c).astype("float32")
        s[f"{key}.bias"] = rng.normal(0, 0.1, c).astype("float32")
        s[f"{key}.running_mean"] = rng.normal(0, 0.1, c).astype("float32")
        s[f"{key}.running_var"] = rng.uniform(0.5, 1.5, c).astype("float32")
        s[f"{key}.num_batches_tracked"] = np.array(7)

    if deep:
        conv_w("conv1.0.weight", 32, in_channels, 3), bn_w("conv1.1", 32)
        conv_w("conv1.3.weight", 32, 32, 3), bn_w("conv1.4", 32)
        conv_w("conv1.6.weight", 64, 32, 3)
    else:
        conv_w("conv1.weight", 64, in_channels, 7)
    bn_w("bn1", 64)
    block, layers = DEPTHS[depth]
    expansion = 4 if block == "bottleneck" else 1
    inplanes = 64
    for stage, (n, width) in enumerate(zip(layers, (64, 128, 256, 512), strict=True), start=1):
        for b in range(n):
            p = f"layer{stage}.{b}"
            stride = 2 if stage > 1 and b == 0 else 1
            if block == "basic":
                conv_w(f"{p}.conv1.weight", width, inplanes, 3), bn_w(f"{p}.bn1", width)
                conv_w(f"{p}.conv2.weight", width, width, 3), bn_w(f"{p}.bn2", width)
            else:
                conv_w(f"{p}.conv1.weight", width, inplanes, 1), bn_w(f"{p}.bn1", width)
                conv_w(f"{p}.conv2.weight", width, width, 3), bn_w(f"{p}.bn2", width)
                conv_w(f"{p}.conv3.weight", width * 4, width, 1), bn_w(f"{p}.bn3", width * 4)
            if se:
                c = width * expansion
                rd = se_channels(c)
                conv_w(f"{p}.se.fc1.weight", rd, c, 1)
                s[f"{p}.se.fc1.bias"] = rng.normal(0, 0.1, rd).astype("float32")
                conv_w(f"{p}.se.fc2.weight", c, rd, 1)
                s[f"{p}.se.fc2.bias"] = rng.normal(0, 0.1, c).astype("float32")
            if b == 0 and (stride != 1 or inplanes != width * expansion):
                i = 1 if deep else 0
                conv_w(f"{p}.downsample.{i}.weight", width * expansion, inplanes, 1)
                bn_w(f"{p}.downsample.{i + 1}", width * expansion)
            inplanes = width * expansion
    s["fc.weight"] = rng.normal(0, 0.05, (num_classes, inplanes)).astype("float32")
    s["fc.bias"] = rng.normal(0, 0.05, num_classes).astype("float32")
    return s


def forward(s, x_nhwc, depth, *, deep=False):
    """Logits of the PyTorch ResNet defined by state dict ``s`` for NHWC input (float64 arithmetic)."""
    s = {k: np.asarray(v, "float64") for k, v in s.items()}
    x = np.transpose(x_nhwc, (0, 3, 1, 2)).astype("float64")
    if deep:
        x = relu(bn(conv(x, s["conv1.0.weight"], 2, 1), s, "conv1.1"))
        x = relu(bn(conv(x, s["conv1.3.weight"], 1, 1), s, "conv1.4"))
        x = conv(x, s["conv1.6.weight"], 1, 1)
    else:
        x = conv(x, s["conv1.weight"], 2, 3)
    x = maxpool(relu(bn(x, s, "bn1")))
    block, layers = DEPTHS[depth]
    for stage, n in enumerate(layers, start=1):
        for b in range(n):
            p = f"layer{stage}.{b}"
            stride = 2 if stage > 1 and b == 0 else 1
            if block == "basic":
                y = relu(bn(conv(x, s[f"{p}.conv1.weight"], stride, 1), s, f"{p}.bn1"))
                y = bn(conv(y, s[f"{p}.conv2.weight"], 1, 1), s, f"{p}.bn2")
            else:
                y = relu(bn(conv(x, s[f"{p}.conv1.weight"]), s, f"{p}.bn1"))
                y = relu(bn(conv(y, s[f"{p}.conv2.weight"], stride, 1), s, f"{p}.bn2"))
                y = bn(conv(y, s[f"{p}.conv3.weight"]), s, f"{p}.bn3")
            if f"{p}.se.fc1.weight" in s:  # timm: SE after the last norm, before the shortcut is added
                z = y.mean(axis=(2, 3))
                z = relu(z @ s[f"{p}.se.fc1.weight"][:, :, 0, 0].T + s[f"{p}.se.fc1.bias"])
                z = z @ s[f"{p}.se.fc2.weight"][:, :, 0, 0].T + s[f"{p}.se.fc2.bias"]
                y = y * (1 / (1 + np.exp(-z)))[:, :, None, None]
            if deep and f"{p}.downsample.1.weight" in s:
                short = avgpool_ceil(x) if stride == 2 else x
                short = bn(conv(short, s[f"{p}.downsample.1.weight"]), s, f"{p}.downsample.2")
            elif f"{p}.downsample.0.weight" in s:
                short = bn(conv(x, s[f"{p}.downsample.0.weight"], stride), s, f"{p}.downsample.1")
            else:
                short = x
            x = relu(y + short)
    pooled = x.mean(axis=(2, 3))
    return pooled @ s["fc.weight"].T + s["fc.bias"]
