"""From a point in the search space to the same objects `retrain` consumes.

Sampling is written once against a small Suggest protocol, so the same code serves
Optuna trials and the analytic check of a space's smallest corner.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import optuna

from models import Analysis, ConvKind, ModelConfig, analyse, cnn
from search.data import DatasetInfo
from search.study.spec import FILL, NO_TEACHER, Budget, FloatRange, IntRange, ModelSpace, Space, TrainSpace
from search.training import TrainConfig
from search.training.teachers import TEACHERS


class Suggest(Protocol):
    def int(self, name: str, low: int, high: int, step: int, log: bool) -> int: ...
    def float(self, name: str, low: float, high: float, log: bool) -> float: ...
    def choice(self, name: str, choices: Sequence[Any]) -> Any: ...


class TrialSuggest:
    """Suggest through an Optuna trial (its sampler decides). A configuration queued again after
    a stop or a death (`Requeue`) comes with the parameters its first attempt drew: each is
    given back as drawn, even where the spec's range or choices changed since (Optuna would
    keep a number and warn of a "configuration mistake", and refuse a changed list of choices
    outright), so a retry trains the configuration it was."""

    def __init__(self, trial: optuna.trial.BaseTrial) -> None:
        self.trial = trial
        self.held = trial.params
        """The queued parameters of a retry; none for a new draw."""

    def int(self, name: str, low: int, high: int, step: int, log: bool) -> int:
        if name in self.held:
            return self.held[name]
        return self.trial.suggest_int(name, low, high, step=step, log=log)

    def float(self, name: str, low: float, high: float, log: bool) -> float:
        if name in self.held:
            return self.held[name]
        return self.trial.suggest_float(name, low, high, log=log)

    def choice(self, name: str, choices: Sequence[Any]) -> Any:
        if name in self.held:
            return self.held[name]
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


def sample_model(s: Suggest, space: ModelSpace, info: DatasetInfo, budget: Budget | None = None) -> ModelConfig:
    """Chooses the arguments of the CNN family (`models.cnn`): stages of padded 3x3 convs,
    each optionally ending in a shared-weight conv applied several times, separated by
    max-pools (each optionally followed by a 1x1 transition), then unpadded
    3x3 tail convs, then the head. With the 'gap' head the last conv outputs one channel
    per class, as in the reference model, so its width is not drawn.

    With `sizing = "budget"` a width range is not drawn as channels but as a relative width
    in [0, 1]; then a fill fraction of the budget is drawn and the channels are solved for
    (`fit_widths`), so every draw whose smallest corner fits is within every bound of it."""
    order, bias, head = draw(s, "order", space.order), draw(s, "bias", space.bias), draw(s, "head", space.head)
    dropout = draw(s, "dropout", space.dropout)
    n_stages = draw(s, "stages", space.stages)
    convs = [draw(s, f"s{i}_convs", space.convs_per_stage) for i in range(n_stages)]
    n_tail = draw(s, "tail_convs", space.tail_convs)
    padded = [(i, j) for i in range(n_stages) for j in range(convs[i])]
    last = ("tail", n_tail - 1) if n_tail else padded[-1] if padded else None
    widths = _Widths(s, budget=space.sizing == "budget")

    def width(name: str, relative: str, where: tuple) -> int:
        return (
            widths.fixed(info.classes)
            if head == "gap" and where == last
            else widths.add(name, relative, space.channels)
        )

    stages: list[list[int]] = []
    transitions: list[int | None] = []
    shared: list[int] = []
    kinds: list[ConvKind] = []
    for i in range(n_stages):  # drawn in the order the layers come, pools' transitions included
        kinds.append(draw(s, f"s{i}_kind", space.kind))
        stages.append([width(f"s{i}_c{j}", f"s{i}_w{j}", (i, j)) for j in range(convs[i])])
        shared.append(draw(s, f"s{i}_shared", space.shared))
        if i < n_stages - 1:
            wanted = draw(s, f"pool{i}_transition", space.transition)
            transitions.append(widths.add(f"pool{i}_tc", f"pool{i}_tw", space.transition_channels) if wanted else None)
    tail = [width(f"tail{t}_c", f"tail{t}_w", ("tail", t)) for t in range(n_tail)]

    def build(channels: Sequence[int]) -> ModelConfig:
        return cnn(
            stages=[[channels[k] for k in stage] for stage in stages],
            tail=[channels[k] for k in tail],
            head=head,
            transitions=[None if t is None else channels[t] for t in transitions],
            shared=shared,
            kinds=kinds,
            dropout=dropout,
            bias=bias,
            order=order,
            num_classes=info.classes,
            input_shape=info.shape,
        )

    if not widths.budget:
        return build(widths.channels(0.0))
    if budget is None:
        raise TypeError("sizing = 'budget' needs the budget")
    fill = draw(s, FILL, space.fill)
    return fit_widths(build, widths, lambda model: budget.fits(analyse(model), fill))


class _Widths:
    """The widths of one draw, in the order the layers come: fixed ones (a gap head's last
    conv, a width given as a number or drawn from a list) and, under budget sizing, relative
    ones that a scale turns into channels on the range's grid."""

    def __init__(self, s: Suggest, budget: bool) -> None:
        self.s, self.budget = s, budget
        self.slots: list[tuple[int, float, IntRange | None]] = []  # (value or low, relative width, range)

    def fixed(self, value: int) -> int:
        self.slots.append((value, 0.0, None))
        return len(self.slots) - 1

    def add(self, name: str, relative: str, param: Any) -> int:
        if self.budget and isinstance(param, IntRange):
            self.slots.append((param.low, self.s.float(relative, 0.0, 1.0, False), param))
        else:
            self.slots.append((draw(self.s, name, param), 0.0, None))
        return len(self.slots) - 1

    def channels(self, scale: float) -> list[int]:
        """Each relative width w at `scale`: low + the grid step nearest min(1, scale * w) of the range."""
        out = []
        for low, w, r in self.slots:
            if r is None:
                out.append(low)
            else:
                steps = (r.high - r.low) // r.step
                out.append(r.low + r.step * round(min(1.0, scale * w) * steps))
        return out

    @property
    def saturating_scale(self) -> float:
        """The scale at which every relative width reaches its range's high end."""
        positive = [w for _, w, r in self.slots if r is not None and w > 0]
        return 1.0 / min(positive) if positive else 0.0


SCALE_BISECTIONS = 40
"""Halvings of the scale interval in `fit_widths`: far below one grid step of any range."""


def fit_widths(
    build: Callable[[Sequence[int]], ModelConfig], widths: _Widths, fits: Callable[[ModelConfig], bool]
) -> ModelConfig:
    """The widest model the relative widths give that `fits`: parameters, MACs, weight and
    activation bytes never fall as the scale grows (each channel is monotone in it), so the
    largest scale that fits is found by bisection. When even the narrowest corner does not fit
    it is returned (the budget check then decides), so a draw is never silently changed into
    another shape."""
    low, high = 0.0, widths.saturating_scale
    narrowest = build(widths.channels(low))
    if high == 0.0 or not fits(narrowest):
        return narrowest
    widest = build(widths.channels(high))
    if fits(widest):
        return widest
    best = narrowest
    for _ in range(SCALE_BISECTIONS):
        mid = (low + high) / 2
        model = build(widths.channels(mid))
        if fits(model):
            low, best = mid, model
        else:
            high = mid
    return best


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


def start_problems(
    model: ModelSpace, train: TrainSpace, info: DatasetInfo, values: dict[str, Any], budget: Budget
) -> list[str]:
    """What is wrong with a configuration to try first: names the space never asks for
    (given the other values) and values outside their ranges; empty when it is a point of
    the space."""
    given = _Given(values)
    sample_model(given, model, info, budget)
    sample_train(given, train, seed=0)
    unknown = [f"{name} is not a parameter of this space" for name in sorted(set(values) - given.asked)]
    return given.problems + unknown


def probe(space: ModelSpace, info: DatasetInfo, budget: Budget, draws: int, seed: int) -> list[Analysis | str]:
    """Uniform random draws of the space's architectures, analytically: each draw's analysis,
    or why it is no model (e.g. the map shrinks below 1x1)."""
    suggest = RandomSuggest(seed)
    out: list[Analysis | str] = []
    for _ in range(draws):
        try:
            out.append(analyse(sample_model(suggest, space, info, budget)))
        except ValueError as exc:
            out.append(str(exc).splitlines()[0])
    return out


class _Filled:
    """Suggests the given values, and draws at random each value missing or outside the
    space, keeping every value it used: the whole set of parameters a trial would record."""

    def __init__(self, values: dict[str, Any], seed: int) -> None:
        self.given, self.random = values, RandomSuggest(seed)
        self.used: dict[str, Any] = {}

    def int(self, name: str, low: int, high: int, step: int, log: bool) -> int:
        v = self.given.get(name)
        fits = isinstance(v, int) and not isinstance(v, bool) and low <= v <= high and (v - low) % step == 0
        self.used[name] = v if fits else self.random.int(name, low, high, step, log)
        return self.used[name]

    def float(self, name: str, low: float, high: float, log: bool) -> float:
        v = self.given.get(name)
        fits = isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high
        self.used[name] = v if fits else self.random.float(name, low, high, log)
        return self.used[name]

    def choice(self, name: str, choices: Sequence[Any]) -> Any:
        fits = name in self.given and self.given[name] in list(choices)
        self.used[name] = self.given[name] if fits else self.random.choice(name, choices)
        return self.used[name]


def complete(
    space: Space, info: DatasetInfo, budget: Budget, values: dict[str, Any], seed: int, within: float = 1.0
) -> tuple[dict[str, Any], str] | None:
    """The whole configuration that starts from these parameter values (those the space asks
    for and `values` lacks, e.g. a stage a mutation added, drawn at random with `seed`) and
    what it trains, as one comparable string; None when that is no model within `within` of
    the budget (a share of each bound: an aimed child's is its target's).
    Two configurations with one identity train the same thing (under budget sizing, relative
    widths that solve to the same channels), so a sampler can skip those already tried."""
    filled = _Filled(values, seed)
    try:
        model = sample_model(filled, space.model, info, budget)
        if not budget.fits(analyse(model), within):
            return None
        recipe = sample_train(filled, space.train, seed=0)
    except ValueError:
        return None
    return filled.used, model.model_dump_json() + recipe.model_dump_json()


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


def smallest_model(space: ModelSpace, info: DatasetInfo, budget: Budget) -> tuple[float, ModelConfig | None]:
    """The valid model of the space that uses the least of its budget (the largest share of any
    bound, `Budget.usage`), and that share: ranges at their low end, every combination of
    choices tried (more or wider convs never cost less)."""
    best: tuple[float, ModelConfig | None] = (math.inf, None)
    path: list[int] = []
    while True:
        corner = _Corner(path)
        try:
            model = sample_model(corner, space, info, budget)
            best = min(best, (budget.usage(analyse(model)), model), key=lambda b: b[0])
        except ValueError:
            pass  # this combination shrinks the map below 1x1: not a model of the space
        path = corner.path[: corner.depth] + [0] * (corner.depth - len(corner.path))
        while path and path[-1] + 1 >= corner.widths[len(path) - 1]:
            path.pop()
        if not path:
            return best
        path[-1] += 1
