"""Choosing a ``tf.distribute`` strategy: one call from a laptop to a Slurm cluster."""

from __future__ import annotations

import json
import os

KINDS = ("auto", "default", "mirrored", "multiworker")


def resolve_kind(kind: str = "auto", *, environ=None, num_gpus: int | None = None) -> str:
    """What ``auto`` means here: ``TF_CONFIG`` → multiworker; more than one GPU → mirrored; else default."""
    if kind not in KINDS:
        raise ValueError(f"strategy kind must be one of {KINDS}, got {kind!r}")
    if kind != "auto":
        return kind
    environ = os.environ if environ is None else environ
    if environ.get("TF_CONFIG"):
        config = json.loads(environ["TF_CONFIG"])
        if len(sum(config.get("cluster", {}).values(), [])) > 1:
            return "multiworker"
    if num_gpus is None:
        import tensorflow as tf

        num_gpus = len(tf.config.list_physical_devices("GPU"))
    return "mirrored" if num_gpus > 1 else "default"


def strategy(kind: str = "auto", *, devices=None, cluster_resolver=None, communication: str = "auto"):
    """Returns a ``tf.distribute.Strategy``.

    Args:
        kind: ``auto``, ``default`` (one device), ``mirrored`` (all local GPUs, or ``devices``),
            ``multiworker`` (cluster from ``TF_CONFIG`` or ``cluster_resolver``).
        devices: device names for ``mirrored``, e.g. ``["/cpu:0", "/cpu:1"]``.
        cluster_resolver: for ``multiworker``, e.g.
            ``tf.distribute.cluster_resolver.SlurmClusterResolver()``.
        communication: ``auto``, ``ring`` or ``nccl`` collective implementation (multiworker).

    Returns:
        The strategy. For ``multiworker`` the Keras 3 ``fit`` fix of
        :mod:`restoolkit.training.keras_fixes` is applied.

    Example:
        >>> s = strategy("mirrored", devices=["/cpu:0", "/cpu:1"])
        >>> s.num_replicas_in_sync
        2
    """
    import tensorflow as tf

    resolved = resolve_kind(kind)
    if resolved == "default":
        return tf.distribute.get_strategy()
    if resolved == "mirrored":
        return tf.distribute.MirroredStrategy(devices=devices)
    from restoolkit.training.keras_fixes import apply_multiworker_fix

    implementation = {
        "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
        "ring": tf.distribute.experimental.CommunicationImplementation.RING,
        "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
    }[communication]
    options = tf.distribute.experimental.CommunicationOptions(implementation=implementation)
    result = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=cluster_resolver, communication_options=options)
    apply_multiworker_fix()
    return result


def is_chief(strat) -> bool:
    """Whether this process writes the real run directory (the chief, or worker 0 without a chief)."""
    resolver = getattr(strat, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    cluster = resolver.cluster_spec().as_dict()
    if "chief" in cluster:
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0
