"""Inference form of a built model: BatchNorm folded into the convolutions where that is exact.

A BatchNorm in eval mode is a per-channel affine map y = s * x + t. It folds exactly

- backward into the conv right before it (conv -> BN, the "bn-relu" order): W' = s W, b' = s b + t;
- forward into the next conv when that conv sees no zero padding (a 1x1 transition, an
  unpadded tail conv, or the head after global average pooling, which is linear):
  W' = W s, b' = b + sum W t.

What stands between a conv and its BN in the "relu-bn" order (a ReLU) or a padded conv after
it (its zero border is not the affine image of a zero border) stops a fold; such a BN stays
as what it is at inference, a per-channel scale and shift. A shared-weight conv keeps its
BNs too: folding them would give each application its own weights and undo the sharing.
Dropout is the identity at inference and is dropped.
"""

from __future__ import annotations

import copy
from typing import TypeGuard, cast

import torch
from torch import nn

from models.builder import SharedConv2d


def _affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("a BatchNorm without running statistics has no inference form to fold")
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _conv_with_bias(conv: nn.Conv2d) -> nn.Conv2d:
    if conv.bias is None:
        conv.bias = nn.Parameter(torch.zeros(conv.out_channels, dtype=conv.weight.dtype, device=conv.weight.device))
    return conv


@torch.no_grad()
def _into_previous(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    scale, shift = _affine(bn)
    conv = _conv_with_bias(conv)
    conv.weight.mul_(scale[:, None, None, None])
    cast(torch.Tensor, conv.bias).mul_(scale).add_(shift)
    return conv


@torch.no_grad()
def _into_next(bn: nn.BatchNorm2d, layer: nn.Conv2d | nn.Linear) -> nn.Module:
    scale, shift = _affine(bn)
    weight = layer.weight if isinstance(layer, nn.Linear) else layer.weight.sum(dim=(2, 3))  # (out, in)
    extra = weight @ shift
    if isinstance(layer, nn.Linear):
        layer.weight.mul_(scale[None, :])
    else:
        layer.weight.mul_(scale[None, :, None, None])
    if layer.bias is None:
        layer.bias = nn.Parameter(extra.clone())
    else:
        layer.bias.add_(extra)
    return layer


def _unpadded_conv(module: nn.Module | None) -> TypeGuard[nn.Conv2d]:
    return isinstance(module, nn.Conv2d) and tuple(module.padding) == (0, 0) and module.groups == 1


def _head_linear(module: nn.Module | None) -> nn.Linear | None:
    """The Linear of a linear head (built as Flatten then Linear)."""
    if isinstance(module, nn.Sequential) and isinstance(module[-1], nn.Linear):
        return module[-1]
    return None


def fold_batchnorm(model: nn.Sequential) -> tuple[nn.Sequential, int, int]:
    """(folded copy, BNs folded, BNs kept) of a model made by `build`; the input is untouched.

    The copy computes the same logits in eval mode (up to float rounding) and is in eval mode.
    """
    modules = [m for m in copy.deepcopy(model).eval() if not isinstance(m, nn.Dropout)]
    out: list[nn.Module] = []
    folded = kept = 0
    i = 0
    while i < len(modules):
        m = modules[i]
        if isinstance(m, nn.BatchNorm2d):
            nxt = modules[i + 1] if i + 1 < len(modules) else None
            after_gap = modules[i + 2] if isinstance(nxt, nn.AdaptiveAvgPool2d) and i + 2 < len(modules) else None
            if out and isinstance(out[-1], nn.Conv2d):
                out[-1] = _into_previous(out[-1], m)
            elif _unpadded_conv(nxt):
                modules[i + 1] = _into_next(m, nxt)
            elif (target := after_gap if _unpadded_conv(after_gap) else _head_linear(after_gap)) is not None:
                _into_next(m, target)
            else:
                out.append(m)
                kept += 1
                i += 1
                continue
            folded += 1
        else:
            out.append(m)
            if isinstance(m, SharedConv2d):  # its BNs stay with it
                kept += len(m.norms)
        i += 1
    return nn.Sequential(*out).eval(), folded, kept
