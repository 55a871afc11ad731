"""``load_backbone``: pretrained weights from the sources users have — keras.applications ImageNet files,
torchvision / timm state dicts, our presets, ``.keras`` / ``.weights.h5`` files — loaded exactly and
offline when the file is at hand; when it is not, the error names the file and where to put it.

Nothing here downloads unless the network is reachable and ``RESTOOLKIT_OFFLINE`` is unset.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import keras
import numpy as np

KERAS_APPS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
KERAS_APPS_FILES = {  # our name → (keras.applications class, file stem)
    "resnet50_v1": ("ResNet50", "resnet50"), "resnet101_v1": ("ResNet101", "resnet101"),
    "resnet152_v1": ("ResNet152", "resnet152"), "resnet50_v2": ("ResNet50V2", "resnet50v2"),
    "resnet101_v2": ("ResNet101V2", "resnet101v2"), "resnet152_v2": ("ResNet152V2", "resnet152v2"),
}
# torchvision's ImageNet files (IMAGENET1K_V1; resnet50's V2 file is resnet50-11ad3fa6.pth) in the torch hub cache.
TORCHVISION_FILES = {"resnet18": "resnet18-f37072fd.pth", "resnet34": "resnet34-b627a593.pth",
                     "resnet50": "resnet50-0676ba61.pth", "resnet101": "resnet101-63fe2227.pth",
                     "resnet152": "resnet152-394f9c45.pth"}
# timm's Hugging Face repositories, one pretrained tag per architecture, each a tag that exists in timm's
# default_cfgs: the RSB "a1" recipe for the plain ResNets, "ra2" for ResNet-D (only resnet50d has a1 weights)
# and for SE-ResNet-50.
TIMM_REPOS = {
    **{name: f"timm/{name}.a1_in1k" for name in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")},
    **{name: f"timm/{name}.ra2_in1k" for name in ("resnet18d", "resnet34d", "resnet50d", "resnet101d", "resnet152d")},
    "seresnet50": "timm/seresnet50.ra2_in1k",
}


from restoolkit.errors import WeightsError, WeightsNotFoundError  # noqa: E402  (re-exported)


def _keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def _online(host: str = "storage.googleapis.com") -> bool:
    if os.environ.get("RESTOOLKIT_OFFLINE"):
        return False
    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False


def keras_applications_file(name: str, *, include_top: bool) -> str:
    """The official file name of a keras.applications ResNet's ImageNet weights."""
    if name not in KERAS_APPS_FILES:
        raise ValueError(f"weights='imagenet' exists for {sorted(KERAS_APPS_FILES)}; for {name!r} use "
                         "weights='torchvision', 'timm' or a preset")
    stem = KERAS_APPS_FILES[name][1]
    return f"{stem}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"


def _imagenet(name, *, include_top, input_shape, weights_path):
    """The keras.applications model carrying the ImageNet file (the other variant of the file — with or
    without top — serves when only it is cached: the convolutions are the same)."""
    from restoolkit.weights import from_keras_applications

    wanted = keras_applications_file(name, include_top=include_top)
    if weights_path:
        path = Path(weights_path).expanduser()
        if not path.exists():
            raise WeightsNotFoundError(f"weights file not found: {path}")
        has_top = "_notop" not in path.name
    else:
        cache = _keras_home() / "models"
        other = keras_applications_file(name, include_top=not include_top)
        if (cache / wanted).exists() or not (cache / other).exists():
            path, has_top = cache / wanted, include_top
        else:
            path, has_top = cache / other, not include_top
        if not path.exists():
            if not _online():
                raise WeightsNotFoundError(
                    f"ImageNet weights for {name} not found: put {wanted} in {cache} (the Keras cache; set KERAS_HOME "
                    f"to move it) or pass weights_path=; it is {KERAS_APPS_URL}{wanted}")
            path = Path(keras.utils.get_file(wanted, KERAS_APPS_URL + wanted, cache_subdir="models"))
    cls = getattr(keras.applications, KERAS_APPS_FILES[name][0])
    kwargs = {"weights": str(path), "include_top": has_top}
    if not has_top:
        kwargs["input_shape"] = tuple(input_shape)
    return from_keras_applications(cls(**kwargs))


# --- torchvision / timm ---------------------------------------------------------------------------------

def read_state_dict(path) -> dict[str, np.ndarray]:
    """A PyTorch state dict as NumPy arrays: ``.safetensors`` with ``safetensors`` alone, ``.pth`` / ``.pt`` /
    ``.bin`` with PyTorch."""
    path = Path(path).expanduser()
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            return dict(load_file(str(path)))
        except Exception as e:  # safetensors raises its own types for a corrupt or truncated file
            raise WeightsError(f"{path}: not a readable safetensors file ({e})") from e
    try:
        import torch
    except ImportError:
        raise ImportError(f"{path.name} is a PyTorch pickle: reading it needs PyTorch (pip install torch), or convert "
                          "it to .safetensors") from None
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def _torch_key(path: str, *, deep_stem: bool, avg_down: bool) -> tuple[str, str] | None:
    """Our weight path → (torch key, kind) where kind says how to lay the tensor out."""
    bn = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
    parts = path.split("/")
    if parts[0] == "predictions":
        return ("fc.weight", "dense") if parts[1] == "kernel" else ("fc.bias", "vector")
    m = re.fullmatch(r"stem_(conv|norm)(\d)", parts[0])
    if m:
        kind, i = m.group(1), int(m.group(2))
        if not deep_stem:
            return ("conv1.weight", "conv") if kind == "conv" else (f"bn1.{bn[parts[1]]}", "vector")
        convs, norms = {1: "conv1.0", 2: "conv1.3", 3: "conv1.6"}, {1: "conv1.1", 2: "conv1.4", 3: "bn1"}
        return (f"{convs[i]}.weight", "conv") if kind == "conv" else (f"{norms[i]}.{bn[parts[1]]}", "vector")
    m = re.fullmatch(r"stage(\d)_block(\d+)", parts[0])
    if m:
        prefix = f"layer{m.group(1)}.{int(m.group(2)) - 1}"
        if parts[1] == "attn":  # timm's SEModule: 1x1 convolutions fc1 (reduce) and fc2 (expand), with biases
            fc = {"reduce": "fc1", "expand": "fc2"}[parts[2]]
            return (f"{prefix}.se.{fc}.weight", "pointwise") if parts[3] == "kernel" else (f"{prefix}.se.{fc}.bias",
                                                                                           "vector")
        if parts[1] == "shortcut":
            conv, norm = ("downsample.1", "downsample.2") if avg_down else ("downsample.0", "downsample.1")
            return (f"{prefix}.{conv}.weight", "conv") if parts[2] == "conv" else (f"{prefix}.{norm}.{bn[parts[3]]}", "vector")
        layer = re.fullmatch(r"(conv|norm)(\d)", parts[1])
        if layer:
            if layer.group(1) == "conv":
                return f"{prefix}.conv{layer.group(2)}.weight", "conv"
            return f"{prefix}.bn{layer.group(2)}.{bn[parts[2]]}", "vector"
    return None


def load_torch_state_dict(model, state: dict, *, deep_stem: bool = False, avg_down: bool = False,
                          adapt: str = "auto") -> dict[str, list[str]]:
    """Copies a torchvision / timm ResNet state dict into our model (same depth), exactly.

    Convolution kernels go from ``(out, in, h, w)`` to ``(h, w, in, out)``, the classifier from
    ``(out, in)`` to ``(in, out)``; batch norm maps weight/bias/running stats to gamma/beta/moving stats.
    Our strided convolutions pad symmetrically, as PyTorch does, so outputs match at any input size.
    A 3-channel stem is adapted when the model has another channel count; the head is left as
    initialised when absent from the model or of another size. Every other weight must be found.

    Returns:
        ``{"copied", "adapted", "reset"}`` weight paths.
    """
    from restoolkit.weights import adapt_input_channels

    state = {k.removeprefix("module."): v for k, v in state.items()}
    used, report = set(), {"copied": [], "adapted": [], "reset": []}
    for weight in model.weights:
        found = _torch_key(weight.path, deep_stem=deep_stem, avg_down=avg_down)
        if found is None or found[0] not in state:
            if weight.path.startswith("predictions/"):
                report["reset"].append(weight.path)
                continue
            raise ValueError(f"no source tensor for our weight {weight.path!r} (looked for {found and found[0]!r})")
        key, kind = found
        value = np.asarray(state[key], "float32")
        if kind == "pointwise":  # (out, in, 1, 1) convolution → (in, out) dense kernel
            value = value.reshape(value.shape[0], value.shape[1]).T
        value = value.transpose(2, 3, 1, 0) if kind == "conv" else value.T if kind == "dense" else value
        used.add(key)
        if tuple(value.shape) == tuple(weight.shape):
            weight.assign(value)
            report["copied"].append(weight.path)
        elif kind == "conv" and weight.path.startswith("stem_conv1/") and value.shape[:2] == tuple(weight.shape[:2]):
            weight.assign(adapt_input_channels(value, weight.shape[2], mode=adapt))
            report["adapted"].append(weight.path)
        elif weight.path.startswith("predictions/"):
            report["reset"].append(weight.path)
        else:
            raise ValueError(f"{key} has shape {value.shape} (after layout change), our {weight.path} is {tuple(weight.shape)}")
    unused = [k for k in state if k not in used and not k.endswith("num_batches_tracked") and not k.startswith("fc.")]
    if unused:
        raise ValueError(f"{len(unused)} source tensors have no place in {model.name} (first: {unused[:3]}): "
                         "is it the same architecture?")
    return report


def _torch_file(name: str, source: str, weights_path) -> Path:
    if weights_path:
        path = Path(weights_path).expanduser()
        if not path.exists():
            raise WeightsNotFoundError(f"weights file not found: {path}")
        return path
    if source == "torchvision":
        if name not in TORCHVISION_FILES:
            raise ValueError(f"torchvision has ImageNet weights for {sorted(TORCHVISION_FILES)}, not {name!r}")
        hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
        path = hub / TORCHVISION_FILES[name]
        if path.exists():
            return path
        raise WeightsNotFoundError(f"torchvision weights for {name} not found: put {TORCHVISION_FILES[name]} in {hub} "
                                   f"(torchvision's cache; set TORCH_HOME to move it) or pass weights_path=")
    if name not in TIMM_REPOS:
        raise ValueError(f"timm weights are mapped for {sorted(TIMM_REPOS)}, not {name!r}")
    repo = TIMM_REPOS[name]
    hf = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    folder = hf / f"models--{repo.replace('/', '--')}"
    found = sorted(folder.glob("snapshots/*/model.safetensors")) if folder.exists() else []
    if found:
        return found[-1]
    raise WeightsNotFoundError(f"timm weights for {name} not found: download model.safetensors of the Hugging Face "
                               f"repo {repo} into {folder}/snapshots/<revision>/ (huggingface-cli download {repo}) "
                               "or pass weights_path=")


# --- the entry point ------------------------------------------------------------------------------------

def load_backbone(name, *, weights=None, input_shape=(224, 224, 3), in_channels: int | None = None,
                  num_classes: int | None = None, include_top: bool | None = None, weights_path=None,
                  adapt: str = "auto", **overrides) -> keras.Model:
    """A registry model with pretrained weights.

    Args:
        name: a registry name (``resnet18``, ``resnet50d``, ``resnet50_v1``…), or the path of a preset
            folder, a ``.keras`` file or a ``.weights.h5`` file (then ``name`` of the architecture comes from
            the file, or from ``overrides["arch"]`` for ``.weights.h5``).
        weights: ``"imagenet"`` (keras.applications files, for ``*_v1`` / ``*_v2``), ``"torchvision"``,
            ``"timm"``, or ``None`` (random).
        input_shape: ``(H, W, C)``; ``in_channels`` overrides ``C``.
        in_channels: adapt the 3-channel stem to this many channels (``adapt``: ``sum`` / ``repeat``).
        num_classes: a head with this many classes: loaded when the source's head has that size, else a
            new head (initialised, with a warning).
        include_top: keep a classifier. Default: when ``num_classes`` is given, or when the source has a head
            (torchvision / timm files and keras.applications files with top: that head is loaded). ``True``
            without ``num_classes`` requires the source's head: its absence is an error, never a random head.
        weights_path: the weights file when it is not in the standard cache.
        **overrides: architecture overrides for the registry entry (``drop_path_rate``…).

    Returns:
        A ``keras.Model``: with ``include_top=False`` the pooled-feature network (``pooling="avg"``).

    Raises:
        WeightsNotFoundError: the file is absent and cannot be downloaded; the message names the file
            and the folder to put it in.

    Example:
        >>> model = load_backbone("resnet50", weights="torchvision", input_shape=(512, 512, 1), num_classes=2)
    """
    from restoolkit.models import create

    shape = tuple(input_shape)
    if in_channels is not None:
        shape = (*shape[:-1], in_channels)
    path = Path(str(name)).expanduser()
    if path.suffix == ".keras" or path.is_dir() or str(name).endswith(".weights.h5"):
        return _from_file(path, shape=shape, num_classes=num_classes, adapt=adapt, **overrides)
    state = source_file = None
    if weights in ("torchvision", "timm"):
        source_file = _torch_file(name, weights, weights_path)
        state = read_state_dict(source_file)
        source_classes = int(state["fc.weight"].shape[0]) if "fc.weight" in state else None
        if include_top is None:
            include_top = num_classes is not None or source_classes is not None
        if include_top and num_classes is None:
            if source_classes is None:
                raise WeightsError(f"{source_file}: include_top=True but the file holds no classifier (fc.weight); "
                                   "pass num_classes for a new head, or include_top=False")
            num_classes = source_classes
        elif include_top and num_classes != source_classes:
            import warnings

            warnings.warn(f"{source_file}: its head has {source_classes or 'no'} classes, not {num_classes}: a new "
                          f"head of {num_classes} classes is initialised", stacklevel=2)
    top = include_top if include_top is not None else num_classes is not None or weights is None
    kwargs = {"input_shape": shape, "include_top": top, **overrides}
    if not top:
        kwargs["pooling"] = kwargs.get("pooling", "avg")
    if top and num_classes is not None:
        kwargs["num_classes"] = num_classes
    model = create(name, **kwargs)
    if weights is None:
        return model
    if weights == "imagenet":
        source_top = top and num_classes in (None, 1000)
        source = _imagenet(name, include_top=source_top, input_shape=(*shape[:-1], 3), weights_path=weights_path)
        from restoolkit.weights import transfer_weights

        transfer_weights(source, model, adapt=adapt)
        return model
    if weights in ("torchvision", "timm"):
        deep = name.endswith("d") and name[:-1] in TORCHVISION_FILES
        try:
            load_torch_state_dict(model, state, deep_stem=deep, avg_down=deep, adapt=adapt)
        except ValueError as e:
            raise WeightsError(f"{source_file}: {e}") from e
        return model
    raise ValueError(f"weights must be None, 'imagenet', 'torchvision' or 'timm', got {weights!r} "
                     "(a preset or file goes in the first argument)")


def _from_file(path: Path, *, shape, num_classes, adapt, **overrides):
    from restoolkit.weights import transfer_weights

    if path.is_dir():
        from restoolkit.presets import load_preset

        source = load_preset(path)
    elif path.suffix == ".keras":
        if not path.exists():
            raise WeightsNotFoundError(f"model file not found: {path}")
        source = keras.saving.load_model(path, safe_mode=True, compile=False)
    else:
        arch = overrides.pop("arch", None)
        if arch is None:
            raise ValueError("a .weights.h5 file holds no architecture: pass arch='resnet18' (the registry name)")
        from restoolkit.models import create

        source = create(arch, input_shape=shape, **overrides)
        source.load_weights(path)
        return source
    registry_name = getattr(source, "backbone_name", None)  # a task preset: its registry backbone
    if registry_name is not None:
        from restoolkit.models import create

        top = num_classes is not None
        target = create(registry_name, input_shape=shape, include_top=top,
                        **({"num_classes": num_classes} if top else {"pooling": "avg"}))
        transfer_weights(source, target, adapt=adapt, reset=("predictions", "head_dropout"))
        return target
    if tuple(source.input_shape[1:]) == tuple(shape) and num_classes is None:
        return source
    from restoolkit.presets import rebuild

    target = rebuild(source, input_shape=shape, num_classes=num_classes)
    transfer_weights(source, target, adapt=adapt)
    return target


# --- fine-tuning helpers --------------------------------------------------------------------------------

def stage_prefixes(freeze_at) -> tuple[str, ...]:
    """Layer-name prefixes frozen by ``freeze_at`` (detectron2's convention): 0 none, 1 (or ``"stem"``)
    the stem, ``k`` the stem and stages 1..k-1."""
    if freeze_at in (None, 0):
        return ()
    if freeze_at == "stem":
        freeze_at = 1
    if not isinstance(freeze_at, int) or not 0 <= freeze_at <= 5:
        raise ValueError(f"freeze_at must be 0..5 or 'stem' (detectron2's convention), got {freeze_at!r}")
    return ("stem",) + tuple(f"stage{k}_" for k in range(1, freeze_at))


def freeze(model: keras.Model, *, freeze_at=0, batch_norm: bool = False) -> list[str]:
    """Freezes the stem and early stages (``freeze_at``) and, with ``batch_norm``, every batch norm
    (Keras runs a non-trainable batch norm in inference mode: fixed statistics, as for fine-tuning with
    small batches). Returns the names of the layers frozen."""
    prefixes = stage_prefixes(freeze_at)
    frozen = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if (prefixes and layer.name.startswith(prefixes)) or (
                batch_norm and isinstance(layer, keras.layers.BatchNormalization)):
            layer.trainable = False
            frozen.append(layer.name)
    return frozen
