"""From a point in the search space to the same objects `retrain` consumes.

Sampling is written once against a small Suggest protocol, so the same code serves
Optuna trials and the analytic check of a space's smallest corner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import optuna

from models import BatchNorm, Conv, Dropout, GlobalAvgPool, Linear, MaxPool, ModelConfig, ReLU, count_params
from search.datasets import DatasetInfo
from search.spec import FloatRange, IntRange, ModelSpace, TrainSpace
from search.training import TrainConfig


class Suggest(Protocol):
    def int(self, name: str, low: int, high: int, step: int, log: bool) -> int: ...
    def float(self, name: str, low: float, high: float, log: bool) -> float: ...
    def choice(self, name: str, choices: Sequence[Any]) -> Any: ...


class TrialSuggest:
    """Suggest through an Optuna trial (its sampler decides)."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial

    def int(self, name: str, low: int, high: int, step: int, log: bool) -> int:
        return self.trial.suggest_int(name, low, high, step=step, log=log)

    def float(self, name: str, low: float, high: float, log: bool) -> float:
        return self.trial.suggest_float(name, low, high, log=log)

    def choice(self, name: str, choices: Sequence[Any]) -> Any:
        return self.trial.suggest_categorical(name, list(choices))


def draw(s: Suggest, name: str, param: Any) -> Any:
    """A fixed value is used as is; ranges and lists of two or more are suggested."""
    if isinstance(param, IntRange):
        return s.int(name, param.low, param.high, param.step, param.log)
    if isinstance(param, FloatRange):
        return s.float(name, param.low, param.high, param.log)
    if isinstance(param, list):
        return param[0] if len(param) == 1 else s.choice(name, param)
    return param


def sample_model(s: Suggest, space: ModelSpace, info: DatasetInfo) -> ModelConfig:
    """Stages of padded 3x3 convs separated by max-pools (each optionally followed by a
    1x1 transition), then unpadded 3x3 'tail' convs, then the head. With the 'gap'
    head the last conv outputs one channel per class, as in the reference model."""
    order, bias, head = draw(s, "order", space.order), draw(s, "bias", space.bias), draw(s, "head", space.head)
    p = draw(s, "dropout", space.dropout)
    stages = draw(s, "stages", space.stages)
    plan: list[tuple[str, int]] = []  # (name of its channel parameter, padding) per 3x3 conv
    layers: list = []
    for stage in range(stages):
        convs = draw(s, f"s{stage}_convs", space.convs_per_stage)
        plan += [(f"s{stage}_c{j}", 1) for j in range(convs)] + [(f"pool{stage}", -1)] * (stage < stages - 1)
    plan += [(f"tail{t}_c", 0) for t in range(draw(s, "tail_convs", space.tail_convs))]
    last_conv = max(i for i, (_, pad) in enumerate(plan) if pad >= 0)

    def block(out: int, padding: int) -> list:
        act = [BatchNorm(), ReLU()] if order == "bn-relu" else [ReLU(), BatchNorm()]
        return [Conv(out=out, padding=padding, bias=bias), *act]

    for i, (name, padding) in enumerate(plan):
        if padding < 0:
            layers += [MaxPool(), *([Dropout(p=p)] if p > 0 else [])]
            if draw(s, f"{name}_transition", space.transition):
                out = draw(s, f"{name}_tc", space.transition_channels)
                layers.append(Conv(out=out, kernel=1, padding=0, bias=bias))
        elif i == last_conv and head == "gap":
            layers += block(info.classes, padding)
        else:
            layers += block(draw(s, name, space.channels), padding)
    layers.append(GlobalAvgPool())
    if head == "conv1x1":
        layers.append(Conv(out=info.classes, kernel=1, padding=0, bias=True))
    elif head == "linear":
        layers.append(Linear(out=info.classes))
    return ModelConfig(input_shape=info.shape, num_classes=info.classes, layers=tuple(layers))


CONDITIONAL = {
    "momentum": ("optimizer", "sgd"),
    "nesterov": ("optimizer", "sgd"),
    "step_size": ("scheduler", "step"),
    "gamma": ("scheduler", "step"),
    "pct_start": ("scheduler", "onecycle"),
}
"""Settings that only matter under one choice are only sampled then, so the sampler does
not spend its model on dimensions that change nothing."""


def sample_train(s: Suggest, space: TrainSpace, seed: int) -> TrainConfig:
    values: dict[str, Any] = {}
    for name, param in space:
        parent = CONDITIONAL.get(name)
        if parent is None or values[parent[0]] == parent[1]:
            values[name] = draw(s, name, param)
    return TrainConfig.model_validate(values | {"seed": seed})


class _Corner:
    """Suggests the low end of every range and walks every combination of choices."""

    def __init__(self, path: list[int]) -> None:
        self.path, self.depth, self.widths = path, 0, []

    def int(self, name: str, low: int, high: int, step: int, log: bool) -> int:
        return low

    def float(self, name: str, low: float, high: float, log: bool) -> float:
        return low

    def choice(self, name: str, choices: Sequence[Any]) -> Any:
        index = self.path[self.depth] if self.depth < len(self.path) else 0
        self.widths.append(len(choices))
        self.depth += 1
        return choices[index]


def smallest_model(space: ModelSpace, info: DatasetInfo) -> tuple[int, ModelConfig | None]:
    """The fewest parameters any valid model of the space has (ranges at their low end,
    every combination of choices tried: more or wider convs never cost fewer)."""
    best: tuple[int, ModelConfig | None] = (10**12, None)
    path: list[int] = []
    while True:
        corner = _Corner(path)
        try:
            model = sample_model(corner, space, info)
            best = min(best, (count_params(model), model), key=lambda b: b[0])
        except ValueError:
            pass  # this combination shrinks the map below 1x1: not a model of the space
        path = corner.path[: corner.depth] + [0] * (corner.depth - len(corner.path))
        while path and path[-1] + 1 >= corner.widths[len(path) - 1]:
            path.pop()
        if not path:
            return best
        path[-1] += 1
