"""``ImageClassifier``: a DICOM image (2-D) or volume (3-D) classifier as one Keras task."""

from __future__ import annotations

import keras
import pandas as pd

from domains.medical.preprocessor import DicomImagePreprocessor
from restoolkit.errors import ConfigError
from restoolkit.models import create, entry
from restoolkit.tasks import Task

RADIOGRAPH_RECIPE = "trained by `make pretrain` on synthetic CR/DX radiographs (domains.medical.synthetic)"


@keras.saving.register_keras_serializable("restoolkit")
class ImageClassifier(Task):
    """Backbone (any registry ResNet, 2-D or ``*_3d``) + global pooling + head, with its DICOM preprocessor.

    Args:
        backbone: a registry name (``resnet18``, ``resnet50``, ``resnet18_3d``…).
        num_classes: ``1`` gives one sigmoid output (the probability of the finding); more gives softmax.
        preprocessor: a :class:`DicomImagePreprocessor` or its arguments as a dict (default: 224×224, 1
            channel). Its ``input_shape`` is the network's.
        dropout: dropout before the head.
        backbone_options: architecture options of the registry entry (``drop_path_rate``…).

    Weights come from :meth:`from_preset` or :meth:`load_backbone_weights` (ImageNet / torchvision /
    timm through :func:`restoolkit.load_backbone`); the constructor builds the architecture only.

    Default training policy (:meth:`fit_defaults`): AdamW, learning rate 1e-3, weight decay 1e-4,
    cosine decay, 10 epochs; balanced class weights in :func:`domains.medical.train`.

    Example:
        >>> task = ImageClassifier("resnet18", preprocessor={"image_size": (128, 128)})
        >>> task.output_shape
        (None, 1)
    """

    presets = {
        "resnet18_synthetic_radiographs": {
            "description": "ResNet-18, 1 channel, 96×96, finds a round opacity on synthetic CR/DX radiographs",
            "config": {"backbone": "resnet18", "num_classes": 1,
                       "preprocessor": {"image_size": [96, 96], "channels": 1}},
            "recipe": RADIOGRAPH_RECIPE,
        },
    }

    def __init__(self, backbone: str = "resnet18", num_classes: int = 1, *, preprocessor=None, dropout: float = 0.0,
                 backbone_options: dict | None = None, **kwargs):
        if isinstance(preprocessor, dict):
            preprocessor = DicomImagePreprocessor(**preprocessor)
        preprocessor = preprocessor or DicomImagePreprocessor()
        is_3d = "3d" in entry(backbone).tags
        if is_3d != (preprocessor.volume_shape is not None):
            raise ConfigError(f"backbone {backbone!r} takes {'volumes' if is_3d else '2-D images'}: give the "
                              f"preprocessor {'a volume_shape' if is_3d else 'no volume_shape'}")
        if int(num_classes) < 1:
            raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
        features = create(backbone, input_shape=preprocessor.input_shape, include_top=False, pooling="avg",
                          name=f"{backbone}_backbone", **(backbone_options or {}))
        head_dropout = keras.layers.Dropout(dropout, name="head_dropout") if dropout else None
        head = keras.layers.Dense(num_classes, activation="sigmoid" if num_classes == 1 else "softmax",
                                  dtype="float32", name="predictions")
        # The backbone's layers form the task's graph directly (not a nested model), so Grad-CAM and weight
        # paths see every layer; ``task.backbone`` is a view of that part.
        inputs, x = features.input, features.output
        if head_dropout is not None:
            x = head_dropout(x)
        outputs = head(x)
        super().__init__(inputs=inputs, outputs=outputs, name=kwargs.pop("name", f"{backbone}_classifier"), **kwargs)
        self.preprocessor = preprocessor
        self.backbone_name = backbone
        self.num_classes = int(num_classes)
        self.dropout = float(dropout)
        self.backbone_options = dict(backbone_options or {})

    @property
    def backbone(self) -> keras.Model:
        """The pooled-feature backbone (the task's layers up to the head)."""
        head_input = self.get_layer("head_dropout" if self.dropout else "predictions").input
        return keras.Model(self.inputs, head_input, name=f"{self.backbone_name}_backbone")

    def get_config(self):
        return {"name": self.name, "backbone": self.backbone_name, "num_classes": self.num_classes,
                "preprocessor": keras.saving.serialize_keras_object(self.preprocessor), "dropout": self.dropout,
                "backbone_options": self.backbone_options}

    # --- training defaults -----------------------------------------------------------------------

    def default_loss(self):
        return "binary_crossentropy" if self.num_classes == 1 else "sparse_categorical_crossentropy"

    def default_metrics(self):
        return [keras.metrics.AUC(name="auc"), "binary_accuracy"] if self.num_classes == 1 else ["accuracy"]

    def fit_defaults(self):
        return {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 1e-4, "schedule": "cosine", "epochs": 10}

    def _head_layers(self):
        return ("predictions", "head_dropout")

    # --- weights ---------------------------------------------------------------------------------

    def load_backbone_weights(self, source, *, adapt: str = "auto") -> dict:
        """Copies a pretrained model's weights (a classifier or backbone of the same registry architecture,
        any channel count: a 3-channel stem is adapted) into this task; the head is kept where it fits.

        ``source``: a ``keras.Model`` (e.g. ``restoolkit.load_backbone("resnet50", weights="torchvision")``),
        a preset folder or a ``.keras`` file.
        """
        from restoolkit.weights import as_model, transfer_weights

        report = transfer_weights(as_model(source), self, adapt=adapt, reset=self._head_layers())
        self.mark_weights_changed()
        return report

    @classmethod
    def _from_other_model(cls, model, preset, **overrides):
        # An older preset holding a plain classifier or backbone: its preprocessing and weights.
        pre = dict(preset.get("preprocessing") or {})
        pre_args = {"image_size": pre.get("input_size", (224, 224))[-2:], "channels": pre.get("channels", 1)}
        arch = dict(preset.get("arch") or {})
        task = cls(**{"backbone": arch.get("name", "resnet18"), "preprocessor": pre_args, **overrides})
        task.load_backbone_weights(model)
        return task

    # --- inference -------------------------------------------------------------------------------

    def predict(self, x, batch_size: int = 16, verbose=0, **kwargs):
        """Probabilities for an index ``DataFrame`` (``path`` or ``paths`` column), a list of DICOM paths,
        or ready arrays. Files are read by the task's own preprocessor."""
        from domains.medical.data import make_dataset

        if isinstance(x, list | tuple) and x and isinstance(x[0], str | bytes) or hasattr(x, "__fspath__"):
            x = pd.DataFrame({"path": [str(p) for p in (x if isinstance(x, list | tuple) else [x])]})
        if isinstance(x, pd.DataFrame):
            x = make_dataset(x, label=None, batch_size=batch_size, **self.preprocessor.dataset_options())
        return super().predict(x, batch_size=batch_size, verbose=verbose, **kwargs)


__all__ = ["ImageClassifier"]
