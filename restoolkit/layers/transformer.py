"""A transformer block with pre-norm and post-norm residual layouts."""

from __future__ import annotations

import keras
from keras import ops

from restoolkit.layers import factories
from restoolkit.layers.scaling import make_branch_scale
from restoolkit.layers.stochastic_depth import StochasticDepth


@keras.saving.register_keras_serializable(package="restoolkit")
class TransformerBlock(keras.layers.Layer):
    """Self-attention and feed-forward sub-blocks, each wrapped in a residual connection.

    ``norm_position="pre"``: ``x + drop(F(norm(x)))`` (GPT-2, ViT); ``"post"``:
    ``norm(x + drop(F(x)))`` (the original Transformer, BERT). ``residual=False`` removes both additions
    (used to ask what residual connections do in language models, arXiv:2410.01019).

    Args:
        num_heads: attention heads.
        key_dim: size per head; defaults to ``d_model // num_heads``.
        ff_dim: feed-forward width; defaults to ``4 * d_model``.
        attention_dropout: dropout on attention probabilities.
        ff_dropout: dropout after the feed-forward activation.
        residual_dropout: dropout on each sub-block's output before its addition.
        norm_position: ``"pre"`` or ``"post"``.
        causal: apply a causal mask (decoder).
        norm_layer: norm spec (``"layer_norm"``).
        act_layer: feed-forward activation spec.
        branch_scale: ``None``, ``"rezero"`` or ``"layerscale"`` on each sub-block.
        drop_path: stochastic depth rate on each sub-block.
        residual: keep the residual additions.

    Example:
        >>> block = TransformerBlock(num_heads=4, causal=True)
        >>> block(keras.ops.ones((2, 16, 64))).shape
        (2, 16, 64)
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int | None = None,
        ff_dim: int | None = None,
        attention_dropout: float = 0.0,
        ff_dropout: float = 0.0,
        residual_dropout: float = 0.0,
        norm_position: str = "pre",
        causal: bool = False,
        norm_layer="layer_norm",
        act_layer="gelu",
        branch_scale: str | None = None,
        layerscale_init: float = 1e-5,
        drop_path: float = 0.0,
        residual: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if norm_position not in ("pre", "post"):
            raise ValueError(f"norm_position must be 'pre' or 'post', got {norm_position!r}")
        self.num_heads = int(num_heads)
        self.key_dim = key_dim
        self.ff_dim = ff_dim
        self.attention_dropout = float(attention_dropout)
        self.ff_dropout = float(ff_dropout)
        self.residual_dropout = float(residual_dropout)
        self.norm_position = norm_position
        self.causal = bool(causal)
        self.norm_layer = factories.normalize_spec(norm_layer)
        self.act_layer = factories.normalize_spec(act_layer)
        self.branch_scale = None if branch_scale in (None, "none") else branch_scale
        self.layerscale_init = float(layerscale_init)
        self.drop_path = float(drop_path)
        self.residual = bool(residual)

    def build(self, input_shape):
        d = int(input_shape[-1])
        if self.key_dim is None and d % self.num_heads:
            raise ValueError(f"d_model {d} is not divisible by num_heads {self.num_heads}; pass key_dim")
        dt = self.dtype_policy
        key_dim = self.key_dim or d // self.num_heads
        self.norm1 = factories.make_norm(self.norm_layer, name="norm1", dtype=dt)
        self.norm2 = factories.make_norm(self.norm_layer, name="norm2", dtype=dt)
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, key_dim, dropout=self.attention_dropout, name="attention", dtype=dt
        )
        self.attention.build(input_shape, input_shape)
        self.ff1 = keras.layers.Dense(self.ff_dim or 4 * d, name="ff1", dtype=dt)
        self.ff_act = factories.make_act(self.act_layer, name="ff_act", dtype=dt)
        self.ff_drop = keras.layers.Dropout(self.ff_dropout, name="ff_dropout", dtype=dt)
        self.ff2 = keras.layers.Dense(d, name="ff2", dtype=dt)
        self.res_drop1 = keras.layers.Dropout(self.residual_dropout, name="residual_dropout1", dtype=dt)
        self.res_drop2 = keras.layers.Dropout(self.residual_dropout, name="residual_dropout2", dtype=dt)
        make_scale = make_branch_scale
        self.scale1 = make_scale(self.branch_scale, layerscale_init=self.layerscale_init, name="scale1", dtype=dt)
        self.scale2 = make_scale(self.branch_scale, layerscale_init=self.layerscale_init, name="scale2", dtype=dt)
        self.drop1 = StochasticDepth(self.drop_path, name="drop_path1", dtype=dt) if self.drop_path else None
        self.drop2 = StochasticDepth(self.drop_path, name="drop_path2", dtype=dt) if self.drop_path else None
        factories.build_sublayers(self, input_shape)

    def _attend(self, x, training):
        return self.attention(x, x, use_causal_mask=self.causal, training=training)

    def _feed_forward(self, x, training):
        y = self.ff1(x)
        if self.ff_act is not None:
            y = self.ff_act(y)
        return self.ff2(self.ff_drop(y, training=training))

    def _sublayer(self, x, fn, norm, res_drop, scale, drop, training):
        inner = x if self.norm_position == "post" or norm is None else norm(x, training=training)
        y = res_drop(fn(inner, training), training=training)
        if scale is not None:
            y = scale(y)
        if drop is not None:
            y = drop(y, training=training)
        out = ops.add(x, y) if self.residual else y
        if self.norm_position == "post" and norm is not None:
            out = norm(out, training=training)
        return out

    def call(self, inputs, training=None):
        x = self._sublayer(inputs, self._attend, self.norm1, self.res_drop1, self.scale1, self.drop1, training)
        return self._sublayer(x, self._feed_forward, self.norm2, self.res_drop2, self.scale2, self.drop2, training)


    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "ff_dim": self.ff_dim,
            "attention_dropout": self.attention_dropout,
            "ff_dropout": self.ff_dropout,
            "residual_dropout": self.residual_dropout,
            "norm_position": self.norm_position,
            "causal": self.causal,
            "norm_layer": self.norm_layer,
            "act_layer": self.act_layer,
            "branch_scale": self.branch_scale,
            "layerscale_init": self.layerscale_init,
            "drop_path": self.drop_path,
            "residual": self.residual,
        }
