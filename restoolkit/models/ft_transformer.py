"""The FT-Transformer of Gorishniy et al. 2021 ("Revisiting Deep Learning Models for Tabular Data", rtdl's
design): a feature tokenizer, pre-norm :class:`~restoolkit.layers.TransformerBlock` s, the prediction read
from the ``[CLS]`` token."""

from __future__ import annotations

import keras

from restoolkit.layers.tokenizer import ClsToken, FeatureTokenizer
from restoolkit.layers.transformer import TransformerBlock
from restoolkit.models.mlp import head_norm_act, prediction_head
from restoolkit.models.registry import register


def build_ft_transformer(
    *,
    input_shape=(16,),
    num_classes: int = 1,
    d_token: int = 32,
    depth: int = 2,
    num_heads: int = 4,
    ff_factor: float = 4 / 3,
    attention_dropout: float = 0.2,
    hidden_dropout: float = 0.1,
    residual_dropout: float = 0.0,
    norm_layer="layer_norm",
    act_layer="relu",
    residual: bool = True,
    include_top: bool = True,
    classifier_activation: str | None = "auto",
    dtype=None,
    name: str = "ft_transformer",
):
    """An FT-Transformer on a flat feature vector.

    ``FeatureTokenizer → depth × TransformerBlock (pre-norm) → [CLS] → Norm → act → head``. rtdl's
    defaults are ``d_token`` 192, 3 blocks, 8 heads, attention dropout 0.2, feed-forward dropout 0.1 and
    width ``4/3 · d_token`` with ReGLU; ours default smaller (``d_token`` 32, 2 blocks: fraud tables and
    2-core scoring) with a ReLU feed-forward.

    Args:
        input_shape: ``(features,)``.
        num_classes: outputs; ``1`` is a binary score.
        d_token: token width (divisible by ``num_heads``).
        depth: transformer blocks.
        ff_factor: feed-forward width as a multiple of ``d_token``.
        attention_dropout: dropout on attention probabilities.
        hidden_dropout: dropout inside the feed-forward (the name the tabular ResNet uses for the same).
        residual_dropout: dropout on each sub-block's output before its addition.
        norm_layer, act_layer: layer specs.
        residual: ``False`` gives the plain twin (no additions).
        include_top, classifier_activation: as in :func:`restoolkit.models.mlp.build_mlp`.
    """
    if d_token % num_heads:
        raise ValueError(f"d_token ({d_token}) must be divisible by num_heads ({num_heads})")
    inputs = keras.Input(tuple(input_shape), name="features")
    x = FeatureTokenizer(d_token, name="tokenizer", dtype=dtype)(inputs)
    for i in range(depth):
        x = TransformerBlock(num_heads, ff_dim=max(1, int(round(ff_factor * d_token))),
                             attention_dropout=attention_dropout, ff_dropout=hidden_dropout,
                             residual_dropout=residual_dropout, norm_position="pre", norm_layer=norm_layer,
                             act_layer=act_layer, residual=residual, name=f"block{i + 1}", dtype=dtype)(x)
    x = ClsToken(name="cls_token", dtype=dtype)(x)
    x = head_norm_act(x, norm_layer, act_layer, dtype=dtype)
    if include_top:
        x = prediction_head(x, num_classes, classifier_activation)
    return keras.Model(inputs, x, name=name)


register("ft_transformer", build_ft_transformer, tags=("tabular",))
register("plain_ft_transformer", build_ft_transformer, tags=("tabular", "plain"), residual=False)
