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
from models.layers import BatchNorm, Conv, Dropout, GlobalAvgPool, Linear, MaxPool, Order, ReLU, SharedConv

Head = Literal["gap", "conv1x1", "linear"]
"""How the last feature map becomes class scores: global average pool then a linear layer,
a 1x1 conv to the classes then average pool, or a linear layer on the flattened map."""
ConvKind = Literal["full", "separable", "grouped"]
"""How a stage's 3x3 convs spend parameters: full (every output channel sees every input
channel), separable (a depthwise 3x3 conv, then a 1x1 conv mixing the channels: in x 9 +
in x out weights instead of in x out x 9), grouped (the channels in GROUPS independent halves:
half the weights)."""

GROUPS = 2
"""Groups of a 'grouped' conv: the most parameter-saving split that still lets every output
see a range of input channels; the searched widths are even."""


def conv_block(
    out: int, *, padding: Literal[0, 1], bias: bool, order: Order, kind: ConvKind = "full", channels_in: int = 1
) -> list:
    """A 3x3 conv (of the given kind) with its normalisation and activation, in the chosen
    order. A conv on a single channel (the image) is always a full conv: there is nothing to
    split."""
    act = [BatchNorm(), ReLU()] if order == "bn-relu" else [ReLU(), BatchNorm()]
    if kind == "full" or channels_in < 2:
        convs = [Conv(out=out, padding=padding, bias=bias)]
    elif kind == "separable":  # no BN between the two: the pair is one conv with factored weights
        convs = [
            Conv(out=channels_in, padding=padding, bias=False, groups=channels_in),
            Conv(out=out, kernel=1, padding=0, bias=bias),
        ]
    else:
        convs = [Conv(out=out, padding=padding, bias=bias, groups=GROUPS)]
    return [*convs, *act]


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
    kinds: ConvKind | Sequence[ConvKind] = "full",
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
    kinds: per stage (or one value for all), the kind of its padded 3x3 convs (`ConvKind`);
        tail, transition, shared and head convs are full.
    dropout: after each pool (one value for all, or one per pool); 0 adds no layer.
    head_dropout: after global pooling (the hand-made reference drops out its logits).
    """
    pools = max(len(stages) - 1, 0)
    drops = _per_pool(dropout, pools, "dropout")
    trans = _per_pool(transitions, pools, "transitions")
    repeats = _per_stage(shared, len(stages))
    stage_kinds = _per_pool(kinds, len(stages), "kinds", "stages")
    layers: list = []
    channels = input_shape[0]
    for i, stage in enumerate(stages):
        for out in stage:
            layers += conv_block(out, padding=1, bias=bias, order=order, kind=stage_kinds[i], channels_in=channels)
            channels = out
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
                channels = trans[i]
    for out in tail:
        layers += conv_block(out, padding=0, bias=bias, order=order)
    layers += _head(head, num_classes, head_dropout)
    return ModelConfig(name=name, input_shape=input_shape, num_classes=num_classes, layers=tuple(layers))


def _head(head: Head, num_classes: int, dropout: float) -> list:
    """Global pooling and what turns it into class scores (for "gap" the last conv already has
    one channel per class)."""
    layers: list = [GlobalAvgPool()]
    if dropout > 0:
        layers.append(Dropout(p=dropout))
    if head == "conv1x1":
        layers.append(Conv(out=num_classes, kernel=1, padding=0, bias=True))
    elif head == "linear":
        layers.append(Linear(out=num_classes))
    return layers
