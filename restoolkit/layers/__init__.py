"""Residual layers, written with ``keras.ops`` only so they run on every Keras backend."""

from restoolkit.layers.blocks import (
    BasicBlock,
    BottleneckBlock,
    PreActBlock,
    PreActBottleneckBlock,
    ResidualBlock,
)
from restoolkit.layers.dense import ResidualDense
from restoolkit.layers.ensemble import MemberAverage, MemberMeanAUC
from restoolkit.layers.factories import FrozenBatchNormalization
from restoolkit.layers.scaling import LayerScale, ReZero
from restoolkit.layers.shortcuts import Shortcut
from restoolkit.layers.squeeze_excite import SqueezeExcite
from restoolkit.layers.stochastic_depth import StochasticDepth
from restoolkit.layers.tokenizer import ClsToken, FeatureTokenizer
from restoolkit.layers.transformer import TransformerBlock

__all__ = [
    "BasicBlock",
    "BottleneckBlock",
    "ClsToken",
    "FeatureTokenizer",
    "FrozenBatchNormalization",
    "LayerScale",
    "MemberAverage",
    "MemberMeanAUC",
    "PreActBlock",
    "PreActBottleneckBlock",
    "ResidualBlock",
    "ResidualDense",
    "ReZero",
    "Shortcut",
    "SqueezeExcite",
    "StochasticDepth",
    "TransformerBlock",
]
