"""A character-level decoder built from the core :class:`~restoolkit.layers.TransformerBlock`."""

from __future__ import annotations

import keras
from keras import ops

from restoolkit.layers import factories
from restoolkit.layers.transformer import TransformerBlock
from restoolkit.models.registry import register


@keras.saving.register_keras_serializable(package="restoolkit")
class PositionEmbedding(keras.layers.Layer):
    """Learned absolute position embeddings added to token embeddings."""

    def __init__(self, max_length: int, **kwargs):
        super().__init__(**kwargs)
        self.max_length = int(max_length)

    def build(self, input_shape):
        self.table = self.add_weight(name="table", shape=(self.max_length, int(input_shape[-1])),
                                     initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        length = ops.shape(x)[1]
        return x + ops.cast(self.table[None, :length], x.dtype)

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


def build_char_transformer(
    *,
    input_shape=(64,),
    num_classes: int = 65,
    width: int = 64,
    depth: int = 2,
    num_heads: int = 4,
    ff_factor: int = 4,
    residual_dropout: float = 0.0,
    attention_dropout: float = 0.0,
    ff_dropout: float = 0.0,
    embedding_dropout: float = 0.0,
    norm_position: str = "pre",
    residual: bool = True,
    branch_scale: str | None = None,
    norm_layer="layer_norm",
    dtype=None,
    name: str = "char_transformer",
):
    """A decoder-only (causal) transformer over characters: token ids ``(B, T)`` → logits ``(B, T, V)``.

    Args:
        input_shape: ``(T,)``, the context length.
        num_classes: vocabulary size (the registry's uniform name for the number of outputs).
        width, depth, num_heads, ff_factor: model size.
        residual_dropout: dropout on each sub-block's output before its residual addition — the knob of
            arXiv:2410.01019 ("residual dropout").
        attention_dropout, ff_dropout, embedding_dropout: the other dropouts.
        norm_position: ``pre`` (GPT-2; a final norm before the head) or ``post`` (the original Transformer).
        residual: ``False`` removes every residual addition (the plain twin).
        branch_scale: ``None``, ``"rezero"`` or ``"layerscale"`` on each sub-block.

    Returns:
        A ``keras.Model`` producing logits (``float32``).
    """
    seq_len = int(input_shape[0])
    tokens = keras.Input((seq_len,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(num_classes, width, name="token_embedding", dtype=dtype,
                               embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02))(tokens)
    x = PositionEmbedding(seq_len, name="position_embedding", dtype=dtype)(x)
    x = keras.layers.Dropout(embedding_dropout, name="embedding_dropout", dtype=dtype)(x)
    for i in range(depth):
        x = TransformerBlock(num_heads, ff_dim=ff_factor * width, attention_dropout=attention_dropout,
                             ff_dropout=ff_dropout, residual_dropout=residual_dropout, norm_position=norm_position,
                             causal=True, norm_layer=norm_layer, branch_scale=branch_scale, residual=residual,
                             name=f"block{i + 1}", dtype=dtype)(x)
    if norm_position == "pre":
        x = factories.make_norm(factories.normalize_spec(norm_layer), name="final_norm", dtype=dtype)(x)
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(x)
    return keras.Model(tokens, logits, name=name)


register("char_transformer", build_char_transformer, tags=("language",))
register("plain_char_transformer", build_char_transformer, tags=("language", "plain"), residual=False)
