"""config -> nn.Module, a pure function."""

from __future__ import annotations

from functools import singledispatch

from torch import nn

from models.config import ModelConfig
from models.layers import BatchNorm, Conv, Dropout, GlobalAvgPool, Linear, MaxPool, ReLU, Shape


@singledispatch
def _module(layer: object, shape: Shape) -> nn.Module:
    raise TypeError(f"no module for {type(layer).__name__}")


@_module.register
def _(layer: Conv, shape: Shape) -> nn.Module:
    return nn.Conv2d(shape[0], layer.out, layer.kernel, padding=layer.padding, bias=layer.bias)


@_module.register
def _(layer: BatchNorm, shape: Shape) -> nn.Module:
    return nn.BatchNorm2d(shape[0])


@_module.register
def _(layer: ReLU, shape: Shape) -> nn.Module:
    return nn.ReLU()


@_module.register
def _(layer: MaxPool, shape: Shape) -> nn.Module:
    return nn.MaxPool2d(2)


@_module.register
def _(layer: Dropout, shape: Shape) -> nn.Module:
    return nn.Dropout(layer.p)


@_module.register
def _(layer: GlobalAvgPool, shape: Shape) -> nn.Module:
    return nn.AdaptiveAvgPool2d(1)


@_module.register
def _(layer: Linear, shape: Shape) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(shape[0], layer.out, bias=layer.bias))


def build(config: ModelConfig) -> nn.Module:
    """Build the network; its forward returns logits of shape (N, num_classes)."""
    shapes = config.shapes()
    modules = [_module(layer, shapes[i]) for i, layer in enumerate(config.layers)]
    return nn.Sequential(*modules, nn.Flatten())
