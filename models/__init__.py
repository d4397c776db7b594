"""Parameterised CNNs for tiny-image classification: config, builder, analysis, presets."""

from models.analysis import Analysis, LayerRow, analyse, arch_string, count_params
from models.build import build
from models.config import SCHEMA_VERSION, ConfigError, ModelConfig, explain
from models.layers import BatchNorm, Conv, Dropout, GlobalAvgPool, Layer, Linear, MaxPool, ReLU
from models.presets import PRESETS, preset

__all__ = [
    "SCHEMA_VERSION", "Analysis", "BatchNorm", "ConfigError", "Conv", "Dropout", "GlobalAvgPool",
    "Layer", "LayerRow", "Linear", "MaxPool", "ModelConfig", "PRESETS", "ReLU", "analyse", "arch_string", "build",
    "count_params", "explain", "preset",
]  # fmt: skip
