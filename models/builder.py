"""config -> nn.Module, a pure function."""

from __future__ import annotations

from functools import singledispatch

import torch
from torch import nn

from models.config import ModelConfig
from models.layers import BatchNorm, Conv, Dropout, GlobalAvgPool, Linear, MaxPool, ReLU, Shape, SharedConv


class SharedConv2d(nn.Module):
    """`conv` applied once per entry of `norms`, each application followed by its own
    BatchNorm and ReLU (BN first when `bn_first`)."""

    def __init__(self, conv: nn.Conv2d, norms: list[nn.BatchNorm2d], bn_first: bool) -> None:
        super().__init__()
        self.conv, self.norms, self.bn_first = conv, nn.ModuleList(norms), bn_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for norm in self.norms:
            x = self.conv(x)
            x = torch.relu(norm(x)) if self.bn_first else norm(torch.relu(x))
        return x


@singledispatch
def _module(layer: object, shape: Shape) -> nn.Module:
    raise TypeError(f"no module for {type(layer).__name__}")


@_module.register
def _(layer: Conv, shape: Shape) -> nn.Module:
    return nn.Conv2d(shape[0], layer.out, layer.kernel, padding=layer.padding, bias=layer.bias, groups=layer.groups)


@_module.register
def _(layer: SharedConv, shape: Shape) -> nn.Module:
    c = shape[0]
    conv = nn.Conv2d(c, c, 3, padding=1, bias=layer.bias)
    return SharedConv2d(conv, [nn.BatchNorm2d(c) for _ in range(layer.repeats)], layer.order == "bn-relu")


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


def build(config: ModelConfig) -> nn.Sequential:
    """Build the network; its forward returns logits of shape (N, num_classes)."""
    shapes = config.shapes()
    modules = [_module(layer, shapes[i]) for i, layer in enumerate(config.layers)]
    return nn.Sequential(*modules, nn.Flatten())
