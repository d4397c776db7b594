"""The CNN family every tinynas model belongs to, as one function of keyword arguments.

Stages of padded 3x3 convs at falling resolution, a 2x2 max-pool after every stage but
the last (each optionally followed by dropout and a 1x1 "transition" conv), then unpadded
3x3 "tail" convs, global average pooling and a head. The search space and the named
presets only choose the arguments; this is the one place that turns them into layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from models.config import ModelConfig
from models.layers import BatchNorm, Conv, Dropout, GlobalAvgPool, Linear, MaxPool, ReLU, SharedConv

Head = Literal["gap", "conv1x1", "linear"]
Order = Literal["bn-relu", "relu-bn"]


def conv_block(out: int, *, padding: Literal[0, 1], bias: bool, order: Order) -> list:
    """A 3x3 conv with its normalisation and activation, in the chosen order."""
    act = [BatchNorm(), ReLU()] if order == "bn-relu" else [ReLU(), BatchNorm()]
    return [Conv(out=out, padding=padding, bias=bias), *act]


def _per_pool(value: float | int | Sequence | None, pools: int, what: str, where: str = "pools") -> list:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != pools:
            raise ValueError(f"{what} has {len(value)} entries but the model has {pools} {where}")
        return list(value)
    return [value] * pools


def _per_stage(value: int | Sequence[int], stages: int) -> list:
    return _per_pool(value, stages, "shared", "stages")


def cnn(
    *,
    stages: Sequence[Sequence[int]],
    tail: Sequence[int] = (),
    head: Head = "conv1x1",
    transitions: int | Sequence[int | None] | None = None,
    shared: int | Sequence[int] = 0,
    dropout: float | Sequence[float] = 0.0,
    head_dropout: float = 0.0,
    bias: bool = False,
    order: Order = "bn-relu",
    num_classes: int = 10,
    input_shape: tuple[int, int, int] = (1, 28, 28),
    name: str = "",
) -> ModelConfig:
    """The family function: channels per conv in, a validated `ModelConfig` out.

    stages: channels of the padded 3x3 convs, per stage (a stage may be empty: a pool
        straight after the previous one); a max-pool follows every stage but the last.
    tail: channels of the unpadded 3x3 convs after the last stage.
    head: "gap" (the last conv has num_classes channels, then global pooling), "conv1x1" or
        "linear" (a classifier after global pooling).
    transitions: channels of a 1x1 conv after each pool (None: no transition there).
    shared: per stage (or one value for all), how many times a width-keeping 3x3 conv with
        shared weights is applied at the end of the stage, each time with its own BN (0: none).
    dropout: after each pool (one value for all, or one per pool); 0 adds no layer.
    head_dropout: after global pooling (the hand-made reference drops out its logits).
    """
    pools = max(len(stages) - 1, 0)
    drops = _per_pool(dropout, pools, "dropout")
    trans = _per_pool(transitions, pools, "transitions")
    repeats = _per_stage(shared, len(stages))
    layers: list = []
    for i, stage in enumerate(stages):
        for out in stage:
            layers += conv_block(out, padding=1, bias=bias, order=order)
        if repeats[i] == 1:
            raise ValueError(f"shared[{i}] is 1: a conv applied once is a plain conv, add it to the stage instead")
        if repeats[i]:
            layers.append(SharedConv(repeats=repeats[i], bias=bias, order=order))
        if i < pools:
            layers.append(MaxPool())
            if drops[i] > 0:
                layers.append(Dropout(p=drops[i]))
            if trans[i] is not None:
                layers.append(Conv(out=trans[i], kernel=1, padding=0, bias=bias))
    for out in tail:
        layers += conv_block(out, padding=0, bias=bias, order=order)
    layers.append(GlobalAvgPool())
    if head_dropout > 0:
        layers.append(Dropout(p=head_dropout))
    if head == "conv1x1":
        layers.append(Conv(out=num_classes, kernel=1, padding=0, bias=True))
    elif head == "linear":
        layers.append(Linear(out=num_classes))
    return ModelConfig(name=name, input_shape=input_shape, num_classes=num_classes, layers=tuple(layers))
