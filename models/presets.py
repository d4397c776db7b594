"""Named variants of the family (timm-style): a registry of functions returning configs."""

from __future__ import annotations

from collections.abc import Callable

from models.config import ConfigError, ModelConfig
from models.family import cnn

PRESETS: dict[str, Callable[[], ModelConfig]] = {}
"""Preset name -> a function building its config; `register` fills it."""


def register(fn: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
    """Adds a variant under its function's name, underscores as dashes (seed_8k -> seed-8k)."""
    PRESETS[fn.__name__.replace("_", "-")] = fn
    return fn


@register
def seed_8k() -> ModelConfig:
    """The hand-made reference: 8,070 parameters, 99.44% test accuracy at epoch 15 (one run).

    Biased convs with ReLU before BN, two padded stages, unpadded convs at 7x7 down to one
    channel per class, global pooling, and dropout 0.2 after each pool and on the logits.
    """
    return cnn(
        name="seed-8k",
        stages=[[8, 8], [16, 16], []],
        tail=[16, 10],
        head="gap",
        bias=True,
        order="relu-bn",
        dropout=0.2,
        head_dropout=0.2,
    )


@register
def compact_4k() -> ModelConfig:
    """A sub-5K design: bias-free convs, BN before ReLU, a 1x1 transition after the first
    pool, an unpadded conv at 7x7 and a 1x1 conv head after global pooling."""
    return cnn(
        name="compact-4k",
        stages=[[8, 12], [12, 12], []],
        tail=[12],
        head="conv1x1",
        bias=False,
        order="bn-relu",
        transitions=[8, None],
        dropout=[0.0, 0.05],
    )


@register
def teacher_17k() -> ModelConfig:
    """A distillation teacher inside the ceilings (17,642 parameters): twice the reference's
    widths where it matters, at the same depth (two full-resolution convs, two pools,
    receptive field past 28), bias-free convs with BN before ReLU."""
    return cnn(
        name="teacher-17k",
        stages=[[16, 16], [24, 24], [28]],
        head="conv1x1",
        bias=False,
        order="bn-relu",
        dropout=0.05,
    )


@register
def sub5k_t83() -> ModelConfig:
    """Found by the sub5k study's sampler (trial 83; 4,822 parameters): three stages of narrow padded
    convs, BN before ReLU, a 1x1 conv head. Its recipe: `search.training.presets`."""
    return cnn(
        name="sub5k-t83",
        stages=[[4, 10], [4, 12, 6], [16, 8, 10]],
        head="conv1x1",
        order="bn-relu",
        dropout=0.005288142410881843,
    )


@register
def sub5k_t0() -> ModelConfig:
    """Built by hand, confirmed as the best of the sub5k study's sixth space (its start, trial 0; 4,804
    parameters): trial 83's first stage,
    then depthwise-separable stages at 14x14 and 7x7 widened back to its parameters (a 3x3 per
    channel, then a 1x1 mixing them), BN before ReLU, a 1x1 conv head."""
    return cnn(
        name="sub5k-t0",
        stages=[[4, 10], [12, 28, 16], [32, 24, 24]],
        kinds=["full", "separable", "separable"],
        head="conv1x1",
        order="bn-relu",
        dropout=0.005288142410881843,
    )


@register
def sub4k_t23() -> ModelConfig:
    """Found by the sub4k study's sampler (trial 23; 3,390 parameters)."""
    return cnn(
        name="sub4k-t23",
        stages=[[4, 4], [10, 10, 6], [6, 6, 10]],
        head="conv1x1",
        order="bn-relu",
        dropout=0.013974260195000521,
    )


@register
def sub3k_t1() -> ModelConfig:
    """Built by hand, the sub3k study's pick (its start, trial 1; 2,942 parameters): one conv at full
    resolution."""
    return cnn(
        name="sub3k-t1",
        stages=[[8], [6, 10, 6], [6, 8]],
        tail=[6],
        head="conv1x1",
        order="bn-relu",
        dropout=0.0037,
    )


@register
def sub2k_t1() -> ModelConfig:
    """Built by hand, the sub2k study's pick (trial 1, its second start: sub1k-t1 widened; 1,948 parameters):
    one full conv at 28x28, three depthwise-separable convs at 14x14 and two at 7x7, the last
    one channel per class before global pooling (the `gap` head)."""
    return cnn(
        name="sub2k-t1",
        stages=[[8], [12, 16, 16], [20, 10]],
        kinds=["full", "separable", "separable"],
        head="gap",
        order="bn-relu",
    )


@register
def sub1k_t1() -> ModelConfig:
    """Built by hand, the sub1k study's pick (trial 1, its second start; 776 parameters): one full conv at
    28x28, depthwise-separable stages at 14x14 and 7x7, the last one channel per class before
    global pooling (the `gap` head: no classifier weights)."""
    return cnn(
        name="sub1k-t1",
        stages=[[6], [8, 8], [12, 10]],
        kinds=["full", "separable", "separable"],
        head="gap",
        order="bn-relu",
    )


def preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name]()
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
