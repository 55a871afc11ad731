"""``Task``: a ``keras.Model`` that owns backbone, preprocessor, head, loss and decoding (keras-hub's shape).

Every domain task (``domains.medical.ImageClassifier``, ``domains.driving.ObjectDetector``,
``domains.fraud.FraudClassifier``) derives from :class:`Task` and so shares:

- ``Task.from_preset(name_or_folder, *, load_weights=True, **overrides)`` and ``task.save_to_preset(folder)``;
- ``.keras`` save / load with ``safe_mode=True`` (every task is a registered Keras serialisable);
- ``get_config()`` holding every constructor argument;
- ``compile()`` with the task's defaults (loss, metrics, optimizer) and ``fit_defaults()``, the
  learning-rate policy ``train`` uses unless told otherwise.
"""

from __future__ import annotations

from pathlib import Path

import keras

from restoolkit.errors import PresetError, WeightsNotFoundError


class Task(keras.Model):
    """Base class of the domain tasks; see the module docstring.

    Subclasses set ``presets``: built-in preset names → ``{"description", "config"}`` (constructor
    arguments) and, where the weights are trained by ``make pretrain``, ``"recipe"`` (how).
    """

    presets: dict[str, dict] = {}

    # --- where the weights come from ---------------------------------------------------------------
    # A fresh initialisation is random, so it differs between processes; a run directory must still
    # recognise "the same task from scratch" to resume it. Weights that were loaded, transferred or
    # trained are part of what the run is, and ``fit`` fingerprints their bytes.

    @property
    def has_fresh_weights(self) -> bool:
        """``True`` while the weights are the constructor's random initialisation."""
        return getattr(self, "_fresh_weights", True)

    def mark_weights_changed(self):
        """Call after assigning weights by hand (``load_weights``, ``set_weights`` and the loaders do)."""
        self._fresh_weights = False

    def load_own_variables(self, store):  # .keras files
        super().load_own_variables(store)
        self.mark_weights_changed()

    def load_weights(self, *args, **kwargs):
        out = super().load_weights(*args, **kwargs)
        self.mark_weights_changed()
        return out

    def set_weights(self, weights):
        super().set_weights(weights)
        self.mark_weights_changed()

    def fit(self, *args, **kwargs):
        history = super().fit(*args, **kwargs)
        self.mark_weights_changed()
        return history

    @classmethod
    def from_config(cls, config):
        """The constructor called with ``get_config()``'s arguments; a serialised preprocessor is rebuilt
        first (safe mode applies: only registered classes)."""
        config = dict(config)
        if isinstance(config.get("preprocessor"), dict) and "class_name" in config["preprocessor"]:
            config["preprocessor"] = keras.saving.deserialize_keras_object(config["preprocessor"])
        return cls(**config)

    # --- training defaults ---------------------------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # An ensemble network (restoolkit.layers.MemberAverage) returns (batch, members) in training:
        # one label column is repeated per member, so the loss is the mean of the members' own losses.
        if self._ensemble_members and y is not None and y_pred is not None and not isinstance(y_pred, dict | list):
            y = keras.ops.convert_to_tensor(y)
            if len(y.shape) == 1:
                y = keras.ops.expand_dims(y, -1)
            if len(y_pred.shape) == 2 and y.shape[-1] == 1 and y_pred.shape[-1] != 1:
                y = keras.ops.broadcast_to(keras.ops.cast(y, y_pred.dtype), keras.ops.shape(y_pred))
        return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)

    @property
    def _ensemble_members(self) -> bool:
        from restoolkit.layers.ensemble import MemberAverage

        if not hasattr(self, "_has_members"):
            self._has_members = any(isinstance(layer, MemberAverage) for layer in self._flatten_layers())
        return self._has_members

    def default_loss(self):
        raise NotImplementedError

    def default_metrics(self) -> list:
        return []

    def fit_defaults(self) -> dict:
        """``learning_rate``, ``weight_decay``, ``optimizer``… that ``train`` uses unless overridden."""
        return {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 1e-4, "schedule": "cosine"}

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """``compile`` with the task's defaults for every argument left at ``"auto"``."""
        if optimizer == "auto":
            defaults = self.fit_defaults()
            optimizer = keras.optimizers.AdamW(defaults["learning_rate"], weight_decay=defaults["weight_decay"])
        if loss == "auto":
            loss = self.default_loss()
        if metrics == "auto":
            metrics = self.default_metrics()
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    # --- presets -------------------------------------------------------------------------------------

    @classmethod
    def _from_preset_config(cls, config: dict, **overrides):
        """A task from a built-in preset's constructor arguments (fresh weights)."""
        return cls(**{**config, **overrides})

    @classmethod
    def _from_other_model(cls, model: keras.Model, preset: dict, **overrides):
        """A task from a preset that holds a plain model (a backbone or classifier); subclasses that can
        use such weights (a backbone preset for a detector) override this."""
        raise PresetError(f"preset {preset['path']} holds a {type(model).__name__} ({model.name}), not a "
                          f"{cls.__name__}")

    def _override(self, **overrides):
        """The same task with some constructor arguments changed; weights copied where shapes allow."""
        from restoolkit.weights import transfer_weights

        other = type(self).from_config({**self.get_config(), **overrides})
        transfer_weights(self, other, reset=self._head_layers())
        if not self.has_fresh_weights:
            other.mark_weights_changed()
        return other

    def _head_layers(self) -> tuple[str, ...]:
        """Layer names whose weights may change shape when the task is rebuilt (the heads)."""
        return ()

    @classmethod
    def from_preset(cls, preset, *, load_weights: bool = True, **overrides):
        """A task from a preset folder, an installed preset's name, or a built-in preset's name.

        Args:
            preset: a folder written by :meth:`save_to_preset` (``~`` is expanded), the name of a preset in
                ``$RESTOOLKIT_HOME/presets``, or a name from ``cls.presets``.
            load_weights: ``False`` gives the preset's architecture and preprocessing with fresh weights
                (also for a built-in preset whose weights have not been built).
            **overrides: constructor arguments to change (``num_classes``, ``class_names``, image size…);
                the weights are copied wherever their shapes still fit (new heads start fresh).

        Raises:
            PresetError: unknown name, a folder that fails verification, or a preset of another kind.
            WeightsNotFoundError: a built-in preset whose weights are not built (``make pretrain``).
        """
        from restoolkit.presets import load_preset, preset_folder, read_preset_config

        folder = preset_folder(preset)
        if folder is None:
            if preset not in cls.presets:
                known = sorted(cls.presets)
                raise PresetError(f"unknown preset {preset!r} for {cls.__name__}: not a folder, not installed in "
                                  f"$RESTOOLKIT_HOME/presets, not one of the built-in presets {known}")
            if load_weights:
                raise WeightsNotFoundError(
                    f"the weights of preset {preset!r} are not built on this machine: run `make pretrain` "
                    "(python -m restoolkit pretrain), or pass load_weights=False for its architecture with fresh "
                    "weights")
            return cls._from_preset_config(dict(cls.presets[preset]["config"]), **overrides)
        if load_weights:
            model = load_preset(folder)
        else:
            model = keras.saving.deserialize_keras_object(read_preset_config(folder)["model"], safe_mode=True)
        if not isinstance(model, cls):
            return cls._from_other_model(model, {"path": str(folder), **getattr(model, "preset", {})}, **overrides)
        task = model._override(**overrides) if overrides else model
        task.preset = getattr(model, "preset", {"path": str(folder)})
        return task

    def save_to_preset(self, folder, *, metadata: dict | None = None) -> Path:
        """Writes the task as a preset folder (config, weights, preprocessing, metadata with SHA-256s)."""
        from restoolkit.presets import save_preset

        preprocessor = getattr(self, "preprocessor", None)
        return save_preset(self, folder, metadata={"task": type(self).__name__, **(metadata or {})},
                           preprocessing=preprocessor.get_config() if preprocessor is not None else {},
                           arch={"task": f"{type(self).__module__}.{type(self).__name__}"})
