"""Named variants of the family (timm-style): a registry of functions returning configs, each
registered with the recipe it was found with when a search found it (as timm keeps a model's
default config beside its registration)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from models.config import ConfigError, ModelConfig
from models.family import Head, cnn

Build = Callable[[], ModelConfig]


@dataclass(frozen=True)
class Preset:
    """A named variant: how to build it and, for one a study picked, how it was trained and where."""

    build: Build
    recipe: Mapping[str, Any] | None = None
    """The training settings it was found with, as plain data: the models package knows nothing
    of training, `search.training` validates them into its recipe. None: a model designed by
    hand, trained with the hand-made reference's recipe (the recipe's defaults)."""
    found: Mapping[str, Any] | None = None
    """Where it was found: study, trial, validation accuracy, parameters (an export's provenance)."""

    def __call__(self) -> ModelConfig:
        return self.build()


PRESETS: dict[str, Preset] = {}
"""Preset name -> its entry; `register` fills it."""


def register(
    fn: Build | None = None, *, recipe: Mapping[str, Any] | None = None, found: Mapping[str, Any] | None = None
) -> Any:
    """Adds a variant under its function's name, underscores as dashes (seed_8k -> seed-8k):
    `@register`, or `@register(recipe=..., found=...)` for one a study picked."""

    def add(build: Build) -> Build:
        PRESETS[build.__name__.replace("_", "-")] = Preset(build, recipe, found)
        return build

    return add(fn) if fn is not None else add


# Recipes later studies started from (a [[start]] carries its recipe): written once, reused below.
_T83 = {
    "lr": 0.006971752660057315, "batch_size": 32, "scheduler": "linear", "pct_start": 0.19903453208544622,
    "rotate": 0.9360321233273031, "translate": 0.08032500644961711, "scale": 0.09, "ema": 0.999, "seed": 5,
}  # fmt: skip
_SUB1K_T1 = {
    "lr": 0.027317808122085372, "batch_size": 32, "epochs": 19, "scheduler": "linear",
    "pct_start": 0.12174721437379499, "rotate": 1.6508661759522714, "translate": 0.0632334013823496, "scale": 0.09,
    "ema": 0.999, "seed": 11,
}  # fmt: skip


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


@register(recipe=_T83, found={"study": "sub5k", "trial": 83, "val_acc": 99.1625, "params": 4822})
def sub5k_t83() -> ModelConfig:
    """Found by the sub5k study's sampler (trial 83; 4,822 parameters): three stages of narrow padded
    convs, BN before ReLU, a 1x1 conv head."""
    return cnn(
        name="sub5k-t83",
        stages=[[4, 10], [4, 12, 6], [16, 8, 10]],
        head="conv1x1",
        order="bn-relu",
        dropout=0.005288142410881843,
    )


@register(  # trial 83's recipe, searched at 19 epochs
    recipe=_T83 | {"epochs": 19}, found={"study": "sub5k", "trial": 0, "val_acc": 99.36, "params": 4804}
)
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


@register(
    recipe={
        "lr": 0.02575727291108277, "batch_size": 32, "epochs": 19, "scheduler": "linear",
        "pct_start": 0.11715912235111114, "rotate": 2.070889975480471, "translate": 0.05003834916723802,
        "ema": 0.999, "seed": 5,
    },
    found={"study": "sub5k", "trial": 91, "val_acc": 99.335, "params": 4006},
)  # fmt: skip
def sub5k_t91() -> ModelConfig:
    """Found from a cold start by the sub5k study's sampler (trial 91, no `[[start]]`; 4,006
    parameters): a full then a depthwise-separable conv at 28x28, one full conv at 14x14 and one at
    7x7, each stage ending in a shared-weight conv applied two or three times, ReLU before BN,
    a 1x1 conv head."""
    return cnn(
        name="sub5k-t91",
        stages=[[6, 6], [10], [10]],
        kinds=["separable", "full", "full"],
        shared=[2, 2, 3],
        head="conv1x1",
        order="relu-bn",
    )


_FRONT5K_T192 = {
    "lr": 0.00706052020344096, "weight_decay": 0.0005, "batch_size": 64, "epochs": 19, "scheduler": "linear",
    "pct_start": 0.2226684155855478, "rotate": 7.739926482401646, "translate": 0.01704520134435472, "ema": 0.999,
    "seed": 17,
}  # fmt: skip


def _front5k_shared_family(name: str, *, tail: list[int], head: Head) -> ModelConfig:
    """The family of the front5k study's picks under 5,000 and 4,000 parameters, which differ in
    their end alone."""
    return cnn(
        name=name,
        stages=[[10], [10], [8, 4]],
        kinds=["full", "full", "separable"],
        shared=2,
        transitions=[4, None],
        tail=tail,
        head=head,
        order="relu-bn",
        dropout=0.057252553262176854,
    )


@register(  # front5k-t192's recipe, its rotation moved
    recipe=_FRONT5K_T192 | {"rotate": 8.04518544011589},
    found={"study": "front5k", "trial": 210, "val_acc": 99.315, "params": 4168},
)
def front5k_t210() -> ModelConfig:
    """Found from a cold start by the front5k study's sampler (trial 210, no `[[start]]`; 4,168
    parameters), its pick under 5,000: one full conv at 28x28 and one at 14x14, a 1x1 conv to 4
    channels between, two depthwise-separable convs at 7x7, each stage ending in a shared-weight
    conv applied twice, two unpadded convs, the last one channel per class before global pooling,
    ReLU before BN."""
    return _front5k_shared_family("front5k-t210", tail=[10, 10], head="gap")


@register(recipe=_FRONT5K_T192, found={"study": "front5k", "trial": 192, "val_acc": 99.33500000000001, "params": 3870})
def front5k_t192() -> ModelConfig:
    """Found from a cold start by the front5k study's sampler (trial 192, no `[[start]]`; 3,870
    parameters), its pick under 4,000: `front5k-t210`'s layout but for its end, two unpadded convs
    to 10 and 6 channels and a 1x1 conv to the classes after global pooling."""
    return _front5k_shared_family("front5k-t192", tail=[10, 6], head="conv1x1")


@register(
    recipe={
        "lr": 0.00909188573883169, "batch_size": 64, "epochs": 19, "scheduler": "linear",
        "pct_start": 0.2226684155855478, "rotate": 8.044922439548259, "translate": 0.00692873632432929, "seed": 17,
    },
    found={"study": "front5k", "trial": 264, "val_acc": 99.28, "params": 2740},
)  # fmt: skip
def front5k_t264() -> ModelConfig:
    """Found from a cold start by the front5k study's sampler (trial 264, no `[[start]]`; 2,740
    parameters), its pick under 3,000: one full conv at each of 28x28, 14x14 and 7x7 (8, 8 and
    4 channels), each ending in a shared-weight conv applied two, three and two times, a 1x1
    conv to 2 channels after the first pool, two unpadded convs, the last one channel per class
    before global pooling."""
    return cnn(
        name="front5k-t264",
        stages=[[8], [8], [4]],
        shared=[2, 3, 2],
        transitions=[2, None],
        tail=[6, 10],
        head="gap",
        order="bn-relu",
        dropout=0.057252553262176854,
    )


@register(
    recipe={
        "lr": 0.010903271248004805, "batch_size": 32, "epochs": 19, "scheduler": "onecycle",
        "pct_start": 0.25541221000524156, "rotate": 9.451462852894394, "translate": 0.02928604804016172, "ema": 0.999,
        "seed": 17,
    },
    found={"study": "front5k", "trial": 245, "val_acc": 97.965, "params": 912},
)  # fmt: skip
def front5k_t245() -> ModelConfig:
    """Found from a cold start by the front5k study's sampler (trial 245, no `[[start]]`; 912
    parameters), its pick under 1,000: a full conv at 28x28 ending in a shared one applied
    twice, two grouped convs (2 groups) at 14x14, a 1x1 conv to 4 channels after the second
    pool, two depthwise-separable convs at 7x7, a 1x1 conv to the classes after global pooling."""
    return cnn(
        name="front5k-t245",
        stages=[[6], [4, 4], [8, 6]],
        kinds=["full", "grouped", "separable"],
        shared=[2, 0, 0],
        transitions=[None, 4],
        head="conv1x1",
        order="relu-bn",
        dropout=0.01358796277081561,
    )


@register(
    recipe={
        "lr": 0.0288892063625271, "batch_size": 64, "epochs": 19, "scheduler": "linear", "pct_start": 0.15200808026705934,
        "rotate": 0.8946461041316698, "translate": 0.08750013702578144, "ema": 0.999, "seed": 13,
    },
    found={"study": "sub2k", "trial": 124, "val_acc": 99.105, "params": 1810},
)  # fmt: skip
def sub2k_t124() -> ModelConfig:
    """Found from a cold start by the sub2k study's sampler (trial 124, no `[[start]]`; 1,810
    parameters), `sub2k-t1`'s family with other widths: a full conv and a depthwise-separable one
    at 28x28, two separable convs at 14x14 (narrowing to 6 channels) and three at 7x7, the last
    one channel per class before global pooling (the `gap` head)."""
    return cnn(
        name="sub2k-t124",
        stages=[[16, 12], [6, 14], [16, 10, 10]],
        kinds=["separable", "separable", "separable"],
        head="gap",
        order="bn-relu",
        dropout=0.008392828800921816,
    )


@register(
    recipe={
        "lr": 0.02309596530030345, "batch_size": 32, "scheduler": "onecycle", "pct_start": 0.18955008041754684,
        "rotate": 3.537052907966536, "translate": 0.07583770008294924, "scale": 0.09, "ema": 0.999, "seed": 6,
    },
    found={"study": "sub4k", "trial": 23, "val_acc": 99.1525, "params": 3390},
)  # fmt: skip
def sub4k_t23() -> ModelConfig:
    """Found by the sub4k study's sampler (trial 23; 3,390 parameters)."""
    return cnn(
        name="sub4k-t23",
        stages=[[4, 4], [10, 10, 6], [6, 6, 10]],
        head="conv1x1",
        order="bn-relu",
        dropout=0.013974260195000521,
    )


@register(
    recipe={
        "lr": 0.0091, "weight_decay": 0.0005, "batch_size": 32, "scheduler": "linear", "pct_start": 0.287,
        "label_smoothing": 0.05, "rotate": 2.5, "translate": 0.08, "scale": 0.09, "ema": 0.999, "seed": 7,
    },
    found={"study": "sub3k", "trial": 1, "val_acc": 98.8625, "params": 2942},
)  # fmt: skip
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


@register(  # sub1k-t1's recipe, under the sub2k study's seed
    recipe=_SUB1K_T1 | {"seed": 13},
    found={"study": "sub2k", "trial": 1, "val_acc": 99.11500000000001, "params": 1948},
)
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


@register(recipe=_SUB1K_T1, found={"study": "sub1k", "trial": 1, "val_acc": 98.015, "params": 776})
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
