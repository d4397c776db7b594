"""From a point in the search space to the same objects `retrain` consumes.

Sampling is written once against a small Suggest protocol, so the same code serves
Optuna trials and the analytic check of a space's smallest corner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import optuna

from models import ConvKind, ModelConfig, cnn, count_params
from search.data import DatasetInfo
from search.study.spec import NO_TEACHER, FloatRange, IntRange, ModelSpace, TrainSpace
from search.training import TrainConfig
from search.training.teachers import TEACHERS


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


class RandomSuggest:
    """Uniform draws without Optuna (log ranges log-uniform), to probe a space analytically."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def int(self, name: str, low: int, high: int, step: int, log: bool) -> int:
        if log:
            return int(min(high, max(low, round(float(np.exp(self.rng.uniform(np.log(low), np.log(high))))))))
        return int(low + step * self.rng.integers(0, (high - low) // step + 1))

    def float(self, name: str, low: float, high: float, log: bool) -> float:
        return float(np.exp(self.rng.uniform(np.log(low), np.log(high)))) if log else float(self.rng.uniform(low, high))

    def choice(self, name: str, choices: Sequence[Any]) -> Any:
        return choices[int(self.rng.integers(0, len(choices)))]


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
    """Chooses the arguments of the CNN family (`models.cnn`): stages of padded 3x3 convs,
    each optionally ending in a shared-weight conv applied several times, separated by
    max-pools (each optionally followed by a 1x1 transition), then unpadded
    3x3 tail convs, then the head. With the 'gap' head the last conv outputs one channel
    per class, as in the reference model, so its width is not drawn."""
    order, bias, head = draw(s, "order", space.order), draw(s, "bias", space.bias), draw(s, "head", space.head)
    dropout = draw(s, "dropout", space.dropout)
    n_stages = draw(s, "stages", space.stages)
    convs = [draw(s, f"s{i}_convs", space.convs_per_stage) for i in range(n_stages)]
    n_tail = draw(s, "tail_convs", space.tail_convs)
    padded = [(i, j) for i in range(n_stages) for j in range(convs[i])]
    last = ("tail", n_tail - 1) if n_tail else padded[-1] if padded else None

    def width(name: str, where: tuple) -> int:
        return info.classes if head == "gap" and where == last else draw(s, name, space.channels)

    stages: list[list[int]] = []
    transitions: list[int | None] = []
    shared: list[int] = []
    kinds: list[ConvKind] = []
    for i in range(n_stages):  # drawn in the order the layers come, pools' transitions included
        kinds.append(draw(s, f"s{i}_kind", space.kind))
        stages.append([width(f"s{i}_c{j}", (i, j)) for j in range(convs[i])])
        shared.append(draw(s, f"s{i}_shared", space.shared))
        if i < n_stages - 1:
            wanted = draw(s, f"pool{i}_transition", space.transition)
            transitions.append(draw(s, f"pool{i}_tc", space.transition_channels) if wanted else None)
    tail = [width(f"tail{t}_c", ("tail", t)) for t in range(n_tail)]
    return cnn(
        stages=stages,
        tail=tail,
        head=head,
        transitions=transitions,
        shared=shared,
        kinds=kinds,
        dropout=dropout,
        bias=bias,
        order=order,
        num_classes=info.classes,
        input_shape=info.shape,
    )


CONDITIONAL = {
    "momentum": ("optimizer", ("sgd",)),
    "nesterov": ("optimizer", ("sgd",)),
    "step_size": ("scheduler", ("step",)),
    "gamma": ("scheduler", ("step",)),
    "pct_start": ("scheduler", ("onecycle", "linear")),
    "distill_alpha": ("teacher", tuple(TEACHERS)),
    "distill_temperature": ("teacher", tuple(TEACHERS)),
}
"""Settings that only matter under one choice are only sampled then, so the sampler does
not spend its model on dimensions that change nothing."""


DISTILL = {"teacher": "teacher", "distill_alpha": "alpha", "distill_temperature": "temperature"}
"""The space's names for the recipe's `distill` settings."""


def possible_teachers(space: TrainSpace) -> list[str]:
    """The teachers a space can draw."""
    choices = space.teacher if isinstance(space.teacher, list) else [space.teacher]
    return [c for c in choices if c != NO_TEACHER]


def sample_train(s: Suggest, space: TrainSpace, seed: int) -> TrainConfig:
    values: dict[str, Any] = {}
    for name, param in space:
        parent = CONDITIONAL.get(name)
        if parent is None or values[parent[0]] in parent[1]:
            values[name] = draw(s, name, param)
    distill = {DISTILL[k]: values.pop(k) for k in list(values) if k in DISTILL}
    if distill.get("teacher", NO_TEACHER) != NO_TEACHER:
        values["distill"] = distill
    return TrainConfig.model_validate(values | {"seed": seed})


class _Given:
    """Suggests the given values (the low end or the first choice elsewhere), noting every
    name asked for and every given value outside its range."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.asked: set[str] = set()
        self.problems: list[str] = []

    def _take(self, name: str, default: Any, fits: bool) -> Any:
        self.asked.add(name)
        if name in self.values and not fits:
            self.problems.append(f"{name} = {self.values[name]!r} is outside the space")
            return default  # so the rest of the configuration is still read
        return self.values.get(name, default)

    def int(self, name: str, low: int, high: int, step: int, log: bool) -> int:
        v = self.values.get(name, low)
        return self._take(name, low, isinstance(v, int) and low <= v <= high and (v - low) % step == 0)

    def float(self, name: str, low: float, high: float, log: bool) -> float:
        v = self.values.get(name, low)
        return self._take(name, low, isinstance(v, (int, float)) and low <= v <= high)

    def choice(self, name: str, choices: Sequence[Any]) -> Any:
        return self._take(name, choices[0], self.values.get(name, choices[0]) in list(choices))


def start_problems(model: ModelSpace, train: TrainSpace, info: DatasetInfo, values: dict[str, Any]) -> list[str]:
    """What is wrong with a configuration to try first: names the space never asks for
    (given the other values) and values outside their ranges; empty when it is a point of
    the space."""
    given = _Given(values)
    sample_model(given, model, info)
    sample_train(given, train, seed=0)
    unknown = [f"{name} is not a parameter of this space" for name in sorted(set(values) - given.asked)]
    return given.problems + unknown


class _Corner:
    """Suggests the low end of every range and walks every combination of choices."""

    def __init__(self, path: list[int]) -> None:
        self.path, self.depth = path, 0
        self.widths: list[int] = []

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
