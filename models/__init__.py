"""Parameterised CNNs for tiny-image classification: config, family, builder, analysis, presets.

One frozen, validated `ModelConfig` describes an architecture; `cnn(...)` is the family
every tinynas model belongs to; `build(config)` is the one build entry point (pure);
`analyse(config)` gives parameters, MACs and receptive field from the config alone.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from models.analysis import ARCH_NOTATION, Analysis, LayerRow, analyse, arch_string, count_params
from models.config import SCHEMA_VERSION, ConfigError, ModelConfig, explain
from models.family import ConvKind, Head, cnn, conv_block
from models.layers import (
    MAX_SHARED_REPEATS,
    BatchNorm,
    Conv,
    Dropout,
    GlobalAvgPool,
    Layer,
    Linear,
    MaxPool,
    Order,
    ReLU,
    SharedConv,
)
from models.presets import PRESETS, preset, register

if TYPE_CHECKING:
    from models.builder import build
    from models.fold import fold_batchnorm
    from models.fused import Fused, fuse, unfuse

_NEEDS_TORCH = {
    "build": "models.builder", "fold_batchnorm": "models.fold", "Fused": "models.fused", "fuse": "models.fused",
    "unfuse": "models.fused",
}  # fmt: skip
"""Loaded on first use: everything else describes a model from its config alone, without
PyTorch, so what only reads configs (a command's --help, `tinynas presets`) starts fast."""


def __getattr__(name: str) -> Any:
    if name in _NEEDS_TORCH:
        return getattr(import_module(_NEEDS_TORCH[name]), name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")


__all__ = [
    "MAX_SHARED_REPEATS", "SCHEMA_VERSION", "Analysis", "BatchNorm", "ConfigError", "Conv", "ConvKind", "Dropout", "Fused", "GlobalAvgPool", "Head", "Order",
    "ARCH_NOTATION", "Layer", "LayerRow", "Linear", "MaxPool", "ModelConfig", "PRESETS", "ReLU", "SharedConv", "analyse", "arch_string", "build",
    "cnn", "conv_block", "count_params", "explain", "fold_batchnorm", "fuse", "preset", "register", "unfuse",
]  # fmt: skip
