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


def preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name]()
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
