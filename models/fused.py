"""K replicas of one architecture as one network (HFTA-style horizontal fusion).

Every conv becomes a grouped conv (groups = K) over the replicas' stacked channels, every
BatchNorm runs per channel and so per replica, and a linear head becomes a grouped 1x1
conv. Replica k's input is channel block k of the fused input and its logits are block k
of the output, so one forward/backward trains K independent models, each exactly as it
would train alone. `fuse` copies K built models in; `unfuse` copies replica k back out.
"""

from __future__ import annotations

from functools import singledispatch
from typing import cast

import torch
from torch import nn

from models.builder import SharedConv2d, build
from models.config import ModelConfig


@singledispatch
def _fused(module: nn.Module, replicas: list[nn.Module]) -> nn.Module:
    """Parameter-free, channel-wise modules (ReLU, max-pool, dropout, global pooling, flatten)
    act on each replica's channels alone: the same module serves all of them."""
    if any(True for _ in module.parameters()):
        raise TypeError(f"cannot fuse {type(module).__name__}")
    return module


@_fused.register
def _(module: nn.Conv2d, replicas: list[nn.Conv2d]) -> nn.Module:
    k = len(replicas)
    fused = nn.Conv2d(
        k * module.in_channels,
        k * module.out_channels,
        module.kernel_size,  # type: ignore[arg-type]  # torch types the stored size as tuple[int, ...]
        padding=module.padding,  # type: ignore[arg-type]
        groups=k * module.groups,
        bias=module.bias is not None,
    )
    with torch.no_grad():
        fused.weight.copy_(torch.cat([r.weight for r in replicas]))
        if fused.bias is not None:
            fused.bias.copy_(torch.cat([_bias(r) for r in replicas]))
    return fused


def _bias(layer: nn.Conv2d | nn.Linear) -> torch.Tensor:
    if layer.bias is None:
        raise TypeError("replicas must agree on having a bias")
    return layer.bias


@_fused.register
def _(module: nn.BatchNorm2d, replicas: list[nn.BatchNorm2d]) -> nn.Module:
    fused = nn.BatchNorm2d(len(replicas) * module.num_features, eps=module.eps, momentum=module.momentum)
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(fused, name).copy_(torch.cat([getattr(r, name) for r in replicas]))
        fused.num_batches_tracked.copy_(module.num_batches_tracked)  # type: ignore[union-attr,arg-type]
    return fused


@_fused.register
def _(module: nn.Linear, replicas: list[nn.Linear]) -> nn.Module:
    """A linear head on a 1x1 map is a 1x1 conv; grouped, it keeps the replicas apart."""
    k = len(replicas)
    fused = nn.Conv2d(k * module.in_features, k * module.out_features, 1, groups=k, bias=module.bias is not None)
    with torch.no_grad():
        fused.weight.copy_(torch.cat([r.weight for r in replicas])[:, :, None, None])
        if fused.bias is not None:
            fused.bias.copy_(torch.cat([_bias(r) for r in replicas]))
    return fused


@_fused.register
def _(module: SharedConv2d, replicas: list[SharedConv2d]) -> nn.Module:
    norms = [cast(nn.BatchNorm2d, _fused(norm, [r.norms[i] for r in replicas])) for i, norm in enumerate(module.norms)]
    conv = cast(nn.Conv2d, _fused(module.conv, [r.conv for r in replicas]))
    return SharedConv2d(conv, norms, module.bn_first)


def _fuse_tree(modules: list[nn.Module]) -> nn.Module:
    head = modules[0]
    if isinstance(head, nn.Sequential):
        children = [list(m.children()) for m in modules]
        fused = [_fuse_tree([c[i] for c in children]) for i in range(len(children[0]))]
        if isinstance(children[0][0], nn.Flatten) and isinstance(children[0][-1], nn.Linear):
            # a linear head: the grouped 1x1 conv needs the 1x1 map, so flatten after it (same
            # positions as the standalone model, so state-dict names line up for `unfuse`)
            fused = [nn.Identity(), *fused[1:], nn.Flatten()]
        return nn.Sequential(*fused)
    return _fused(head, modules)


class Fused(nn.Module):
    """Input (N, K*C, H, W): replica k's images in channel block k. Output (N, K, classes)."""

    def __init__(self, body: nn.Module, k: int, num_classes: int) -> None:
        super().__init__()
        self.body, self.k, self.num_classes = body, k, num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).view(x.shape[0], self.k, self.num_classes)


def fuse(config: ModelConfig, replicas: list[nn.Module]) -> Fused:
    """One network holding the given models of `config` (each built by `build(config)`)."""
    if not replicas:
        raise ValueError("fuse needs at least one replica")
    return Fused(_fuse_tree(replicas), len(replicas), config.num_classes)


def unfuse(config: ModelConfig, fused: Fused, index: int) -> nn.Module:
    """Replica `index` as a standalone model of `config`, with its weights and BN statistics."""
    model = build(config)
    k = fused.k
    fused_state = fused.body.state_dict()
    state = {}
    for name, value in model.state_dict().items():
        block = fused_state[name]
        if name.endswith("num_batches_tracked"):
            state[name] = block.clone()
            continue
        part = block.reshape(k, -1, *block.shape[1:])[index]
        state[name] = part.reshape(value.shape).clone()
    model.load_state_dict(state)
    return model.to(next(fused.parameters()).device)
