"""The samplers a spec may choose, and the one place that builds them from `[sampler]`.

`EvolutionSampler` is regularized (aging) evolution (Real et al., AAAI 2019, arXiv
1802.01548) written against Optuna's public sampler API, so storage, dashboard, workers and
resume work as with any Optuna sampler: its population is read from the study's trials each
time, never kept in memory, so workers share one population and a resumed study continues
from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import Any, Protocol, get_args

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from search.study.record import MUTATION, NEW_LAYOUT, Drawn
from search.study.spec import FrontRule, SamplerSpec


class Complete(Protocol):
    """A configuration completed from some parameter values (the missing ones drawn with the given
    seed) with what it trains, comparable; None when it cannot be trained (e.g. over budget) or is
    not within `within` of the budget (a share of each bound). Lets a sampler propose whole
    children, skipping those that repeat a trial, break the budget or overshoot their target."""

    def __call__(
        self, values: dict[str, Any], seed: int, within: float = 1.0
    ) -> tuple[dict[str, Any], Hashable] | None: ...


def trial_seed(seed: int, number: int) -> int:
    """The seed of trial `number`'s draws in a run seeded `seed`: distinct trials draw apart even
    when two runs of one study start with the same seed (they never share a trial number),
    and a rerun of one run draws what it drew."""
    return int(np.random.SeedSequence([seed % 2**32, number]).generate_state(1)[0])


class PerTrialSeeds(optuna.samplers.BaseSampler):
    """A sampler drawing each trial from its own seed (`trial_seed`): a new inner sampler per
    trial, built by `make(seed)`. For Optuna's samplers that read everything they learn from
    the study (TPE, random, NSGA-II), which is what lets two runs of one study, started at
    once with the same spec, propose different configurations."""

    def __init__(self, make: Callable[[int], optuna.samplers.BaseSampler], seed: int) -> None:
        self._make, self._seed = make, seed
        self._live: dict[int, optuna.samplers.BaseSampler] = {}

    def _for(self, trial: FrozenTrial) -> optuna.samplers.BaseSampler:
        if trial.number not in self._live:
            self._live[trial.number] = self._make(trial_seed(self._seed, trial.number))
        return self._live[trial.number]

    def reseed_rng(self) -> None:
        self._seed = int(np.random.SeedSequence().generate_state(1)[0])

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._for(trial).after_trial(study, trial, state, values)
        del self._live[trial.number]


MUTATION_TRIES = 64
"""Children planned before giving up on finding a new trainable one; the trial is then drawn
at random (the population has converged: exploring is worth more than a repeat)."""

MOVE_TRIES = 8
"""How often a mutation of one parameter is drawn again, each time reaching further, when it
leaves what the child trains unchanged (a relative width whose conv keeps its channels). Of
the children of random parents that mutate widths only, 57-71% trained their parent's model
with each move drawn once, 0-10% with up to eight (`benchmarks/mutations.py`; the shipped
sub1k, sub5k and front5k spaces)."""


def fitness(trial: FrozenTrial) -> list[float] | None:
    """What a trial scores in a tournament: its values when complete; for a single objective, a
    pruned trial's last reported value (pruned early, it loses to complete ones); None for a
    trial that never trained (over budget, invalid) or failed."""
    if trial.state == TrialState.COMPLETE and trial.values is not None:
        return list(trial.values)
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        return [trial.intermediate_values[max(trial.intermediate_values)]]
    return None


def population(finished: Sequence[FrozenTrial], size: int, objectives: int) -> list[FrozenTrial]:
    """The `size` most recently finished of these trials that have a fitness (with several
    objectives: complete ones, the only ones with values for each), oldest first."""
    scored = [t for t in finished if fitness(t) is not None and (objectives == 1 or t.values)]
    scored.sort(key=lambda t: (t.datetime_complete or t.datetime_start, t.number))
    return scored[-size:]


def _standing(trial: FrozenTrial, direction: StudyDirection) -> tuple[float, float]:
    """A single-objective tournament's order: how far the trial got (complete; else the last
    step it reported: an epoch, or a promotion rung), then its value there. A score on a
    cheaper run or an earlier epoch is not on the same scale as a complete run's."""
    value = (fitness(trial) or [-math.inf])[0]
    reach = math.inf if trial.state == TrialState.COMPLETE else float(max(trial.intermediate_values, default=0))
    return reach, value if direction == StudyDirection.MAXIMIZE else -value


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[StudyDirection]) -> bool:
    """a dominates b: no worse in every objective, better in one."""
    signs = [1.0 if d == StudyDirection.MAXIMIZE else -1.0 for d in directions]
    no_worse = all(s * x >= s * y for s, x, y in zip(signs, a, b, strict=True))
    return no_worse and any(s * x > s * y for s, x, y in zip(signs, a, b, strict=True))


def _dominance(
    picks: list[FrozenTrial], directions: Sequence[StudyDirection], rng: np.random.RandomState
) -> FrozenTrial:
    """A pick that no other pick dominates, at random among them."""
    scores = [fitness(t) or [] for t in picks]
    best = [
        t
        for t, s in zip(picks, scores, strict=True)
        if not any(dominates(o, s, directions) for o in scores if o is not s)
    ]
    return best[int(rng.randint(len(best)))]


NEAR_MARK = 0.85
"""A target cost drawn at a mark (`[sampler] targets`) lies from this share of it up to it: an
aimed child costs at most its target, the median one 5% less (benchmarks/README.md), and a
front read at a budget is best just under it."""


def cost_index(directions: Sequence[StudyDirection]) -> int | None:
    """Which objective is the cost to keep down, for a two-objective study with one to raise
    and one to lower (accuracy and a cost); None for any other study."""
    if len(directions) != 2 or directions[0] == directions[1]:
        return None
    return directions.index(StudyDirection.MINIMIZE)


def _nearest_to_target(
    members: list[FrozenTrial],
    directions: Sequence[StudyDirection],
    top: float | None,
    rng: np.random.RandomState,
    marks: Sequence[float] = (),
    reach: float = 1.0,
) -> tuple[FrozenTrial, float] | None:
    """A tournament for one point of the front: a target cost drawn log-uniformly from the
    members' cheapest trial up to `top` (the budget on that cost; without one, their
    costliest trial) or, given `marks` (the costs the front is read at), from NEAR_MARK of
    one of them, at random, up to it; the member of their front (those no other member
    dominates) nearest to it on a log scale wins. Each front member gets children in
    proportion to the stretch of the cost range it is nearest to: a member beside a gap in
    the front gets many (its children fill the gap), a member among many close ones few,
    however the population crowds. With `reach` above 1, any front member whose cost is
    within that factor of the target wins, each as often: the families of the front's
    neighbouring stretches get children aimed here too (narrowed or widened to the target).
    The winner and the target; None when the study is not accuracy against a cost."""
    cost = cost_index(directions)
    if cost is None:
        return None
    front = [t for t in members if not any(dominates(o.values, t.values, directions) for o in members)]
    logs = [math.log(max(t.values[cost], 1.0)) for t in front]  # a cost counts whole units: 1 and up
    if marks:
        mark = math.log(marks[int(rng.randint(len(marks)))])
        target = rng.uniform(mark + math.log(NEAR_MARK), mark)
    else:
        high = max(logs) if top is None else max(*logs, math.log(max(top, 1.0)))
        target = rng.uniform(min(logs), high)
    gaps = [abs(x - target) for x in logs]
    near = [i for i, g in enumerate(gaps) if g <= math.log(reach)] if reach > 1 else []
    return front[int(rng.choice(near or [i for i, g in enumerate(gaps) if g == min(gaps)]))], math.exp(target)


def archived_front(
    members: list[FrozenTrial],
    finished: Sequence[FrozenTrial],
    directions: Sequence[StudyDirection],
    *,
    whole: bool = False,
) -> list[FrozenTrial]:
    """The study's front the population lacks, kept beside it as parents: by default its ends
    beyond the population's costs, the complete trials cheaper than its cheapest member, or
    costlier than its costliest, that no trial dominates. In a Pareto study the population
    moves to where children are drawn; without these, an end of the front it has aged out of
    (front5k's under 1,000 parameters, once its 24 most recent trials all cost 1,268 or more)
    gets no parent again. With `whole`, every trial of the study's front the population lacks,
    at any cost: an elitist archive, as LEMONADE keeps (front5k's population, 24 trials after
    171, had aged out the best trials under 1,000 and 2,000 parameters it had found: 97.28%
    and 98.78% against its own 97.13% and 98.48%). Empty for any study but accuracy against a
    cost."""
    cost = cost_index(directions)
    if cost is None or not members:
        return []
    low, high = min(t.values[cost] for t in members), max(t.values[cost] for t in members)
    kept = {t.number for t in members}
    beyond = [
        t
        for t in finished
        if t.state == TrialState.COMPLETE
        and t.values
        and t.number not in kept
        and (whole or not low <= t.values[cost] <= high)
    ]
    return [t for t in beyond if not any(dominates(o.values, t.values, directions) for o in beyond + members)]


def _fits(dist: BaseDistribution, value: Any) -> bool:
    """Whether a parent's value is a point of this trial's distribution (a resumed study may
    have narrowed a range)."""
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    if isinstance(dist, (IntDistribution, FloatDistribution)):
        if not isinstance(value, (int, float)) or not dist.low <= value <= dist.high:
            return False
        step = dist.step
        return step is None or math.isclose((value - dist.low) / step, round((value - dist.low) / step))
    return False


def _on_grid(dist: IntDistribution | FloatDistribution, point: float) -> Any:
    """`point` on the distribution's grid: rounded to its step (ints to whole numbers), within
    its range."""
    if dist.step is not None:
        point = dist.low + dist.step * round((point - dist.low) / dist.step)
    point = min(dist.high, max(dist.low, point))
    return round(point) if isinstance(dist, IntDistribution) else float(point)


class EvolutionSampler(optuna.samplers.BaseSampler):
    """Regularized (aging) evolution. Until the study has `startup` trained trials, draws are
    uniform at random. Then each new trial is a child: `tournament` trials drawn from the
    `population` most recently finished ones, the best of them (for several objectives, one
    not dominated by the others) copied with one or two of its parameters mutated: a choice
    changed, a number moved a little (a conv wider or narrower) or, with probability
    `resample`, drawn anew over its whole range. The oldest trials age out of
    the population as new ones finish, which keeps a lucky early trial from ruling for ever.
    Parameters the parent never had (a stage it lacked) are drawn at random.

    With accuracy against a cost (a Pareto study), `front` says how a parent is chosen:
    "target" (a target cost drawn up to `cost_limit`, the study's budget on that cost, and
    the member of the population's front nearest to it: children spread along the whole
    front) or "dominance" (a tournament pick no other pick dominates: the cheapest pick always
    is one, so the cheap end draws many children, and a pick off the population's front often
    wins). Under "target", with `aim_by` (under budget sizing, the share of the budget the
    solved widths may fill: a model costs at most that share of the budget), the child's value
    of it is target / `cost_limit` (without a limit: its parent's times target / parent's
    cost), beside its mutations, and a child costing more than its target at its narrowest
    widths is passed over for another: a child otherwise keeps its parent's cost, and a layout
    never leaves the stretch of the front it was drawn in; aimed, the front's layouts move
    along it into the gaps around them, as the network morphisms that widen or narrow a whole
    network do in LEMONADE (Elsken et al., ICLR 2019) and μNAS.
    With `marks` (the costs the front is read at, e.g. the budgets of a results table), the
    target costs are drawn just under them, so the children land where the front is read, and
    the study's whole front competes beside the population: the best trial under a budget
    stays a parent after the population ages it out.
    With `new_layout`, that share of the children are new layouts: every parameter but the
    `recipe` ones (what the child trains with) left out of the child, so that it is drawn at
    random (aimed as any child is), under its parent's recipe. Mutations of one or two of some
    30 parameters keep a study's layouts in the families of its few random draws; a random
    draw with a random recipe seldom survives screening against tuned ones.
    With `parent_reach` (a factor above 1), a target's parent is any front member that costs
    within that factor of it, not only the nearest: the member just under a budget otherwise
    parents every child aimed there, and the budget's best stays in that one family while a
    better family sits a little above it (front5k's seven members from 1,462 to 1,878
    parameters were one family, its best 98.78% since trial 97, with 99.00% at 2,454)."""

    def __init__(
        self,
        *,
        population: int = 16,
        tournament: int = 4,
        startup: int = 8,
        resample: float = 0.25,
        front: FrontRule = "target",
        cost_limit: float | None = None,
        aim_by: str | None = None,
        marks: Sequence[float] = (),
        new_layout: float = 0.0,
        recipe: Collection[str] = (),
        parent_reach: float = 1.0,
        seed: int | None = None,
        complete: Complete | None = None,
    ) -> None:
        if not 2 <= tournament <= population:
            raise ValueError("tournament must be at least 2 and at most the population")
        if not 0.0 <= resample <= 1.0:
            raise ValueError("resample is a probability: between 0 and 1")
        if not 0.0 <= new_layout <= 1.0:
            raise ValueError("new_layout is a probability: between 0 and 1")
        if not parent_reach >= 1.0:
            raise ValueError("parent_reach is a factor of cost: 1 or more")
        self.population, self.tournament, self.startup = population, tournament, max(startup, 2)
        if front not in get_args(FrontRule):
            raise ValueError(f"front is one of {', '.join(get_args(FrontRule))}")
        self.resample, self.front, self.cost_limit, self.aim_by = resample, front, cost_limit, aim_by
        self.marks = tuple(marks)
        self.new_layout, self.recipe, self.parent_reach = new_layout, frozenset(recipe), parent_reach
        self._seed = seed if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        self._rng = np.random.RandomState(self._seed)
        self._random = optuna.samplers.RandomSampler(seed=self._seed)
        self._complete = complete
        self._seen: dict[int, Hashable | None] = {}  # trial number -> identity, computed once
        self._plans: dict[int, tuple[dict[str, Any], Drawn]] = {}  # trial number -> child, how drawn

    def reseed_rng(self) -> None:
        self._seed = int(np.random.SeedSequence().generate_state(1)[0])

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def members(self, study: optuna.Study) -> list[FrozenTrial]:
        """The population: the most recently finished trials that have a fitness; choosing
        parents by `target`, with the ends of the study's front it has aged out of (with
        `marks`, with all of the study's front)."""
        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        return self.members_among(finished, study.directions)

    def members_among(self, finished: Sequence[FrozenTrial], directions: Sequence[StudyDirection]) -> list[FrozenTrial]:
        """The population as it stands when these trials are the finished ones (a replay
        rebuilds a past one)."""
        members = population(finished, self.population, len(directions))
        if self.front != "target":
            return members
        return members + archived_front(members, finished, directions, whole=bool(self.marks))

    def parent(self, study: optuna.Study, members: list[FrozenTrial]) -> FrozenTrial:
        return self.aimed_parent(study, members)[0]

    def aimed_parent(self, study: optuna.Study, members: list[FrozenTrial]) -> tuple[FrozenTrial, float | None]:
        """A tournament's winner and, under the "target" rule in a Pareto study, the cost its child aims at."""
        if self.front == "target" and (
            aimed := _nearest_to_target(
                members, study.directions, self.cost_limit, self._rng, self.marks, self.parent_reach
            )
        ):
            return aimed
        picks = [members[i] for i in self._rng.choice(len(members), size=self.tournament, replace=False)]
        if len(study.directions) == 1:  # picks are in random order: max() breaks ties at random
            return max(picks, key=lambda t: _standing(t, study.direction)), None
        return _dominance(picks, study.directions, self._rng), None

    def within(self, parent: FrozenTrial, target: float | None) -> float:
        """The share of the budget a child aimed at `target` must fit: its target's (a layout
        whose narrowest widths cost more, e.g. a stage ending in a shared conv before a `gap`
        head, is left for another child), else all of it."""
        if target is None or not self.cost_limit or self.aim_by not in parent.params:
            return 1.0
        return target / self.cost_limit

    def kind_of_child(self) -> str:
        """A new layout with probability `new_layout`, else a mutation."""
        anew = self.new_layout > 0 and self._rng.rand() < self.new_layout  # no draw when off: streams as before
        return NEW_LAYOUT if anew else MUTATION

    def aimed_child(
        self, parent: FrozenTrial, target: float | None, directions: Sequence[StudyDirection], how: str = MUTATION
    ) -> dict[str, Any]:
        """`parent` mutated (or, for a new layout, its recipe alone) and, with `aim_by` and a
        target, its `aim_by` value set to the target's share of `cost_limit` (without one, its
        parent's value scaled by target / parent's cost)."""
        child = self.recipe_of(parent) if how == NEW_LAYOUT else self.mutate(parent)
        cost = cost_index(directions)
        name = self.aim_by
        if target is None or cost is None or name is None or name not in parent.params:
            return child
        dist = parent.distributions[name]
        if isinstance(dist, FloatDistribution):  # the share it fills: the cost follows it
            if self.cost_limit:  # the widest widths within target / limit of it: never over the target
                child[name] = _on_grid(dist, target / self.cost_limit)
            else:
                child[name] = _on_grid(dist, parent.params[name] * target / max(parent.values[cost], 1.0))
        return child

    def recipe_of(self, parent: FrozenTrial) -> dict[str, Any]:
        """The parent's values of the `recipe` parameters alone: a child of them is a new layout,
        the rest of its parameters drawn at random, trained as its parent is."""
        return {name: value for name, value in parent.params.items() if name in self.recipe}

    def mutate(self, parent: FrozenTrial) -> dict[str, Any]:
        """The parent's parameters with one or two of them changed (each to a different value,
        and, where `complete` can tell, one that changes what the child trains: under budget
        sizing, a relative width moved by a little often solves to the same channels, and such
        a move is drawn again)."""
        names = [n for n, d in parent.distributions.items() if not d.single()]
        child = dict(parent.params)
        if not names:
            return child
        count = min(len(names), 1 + int(self._rng.rand() < 0.5))
        for name in self._rng.choice(names, size=count, replace=False):
            child[name] = self._effective_move(child, name, parent.distributions[name])
        return child

    def _effective_move(self, params: dict[str, Any], name: str, dist: BaseDistribution) -> Any:
        """A new value of `name` that changes what `params` train, if one of a few moves does."""
        before = self._identity(params)
        for tried in range(MOVE_TRIES):
            value = self._moved(dist, params[name], reach=1 + tried / 2)  # further each time
            if before is None or self._identity(params | {name: value}) != before:
                return value
        return value

    def _identity(self, params: dict[str, Any]) -> Hashable | None:
        """What these parameters train (missing ones drawn with one fixed seed, so that two
        calls compare), or None when `complete` is not known or finds nothing trainable."""
        done = None if self._complete is None else self._complete(params, 0)
        return None if done is None else done[1]

    def _moved(self, dist: BaseDistribution, value: Any, reach: float = 1.0) -> Any:
        """A different value: a choice changed; a number drawn anew over its whole range with
        probability `resample`, else moved by a little (`reach` times the usual spread)."""
        if isinstance(dist, CategoricalDistribution):
            others = [c for c in dist.choices if c != value]
            return others[int(self._rng.randint(len(others)))]
        if self._rng.rand() < self.resample:
            return self._anew(dist, value)
        if isinstance(dist, IntDistribution):
            if dist.log:
                moved = round(math.exp(math.log(value) + self._rng.normal(0.0, 0.3 * reach)))
            else:
                moved = value + dist.step * int(self._rng.choice([-2, -1, 1, 2]))
            moved = int(min(dist.high, max(dist.low, moved)))
            if moved == value:  # clipped back at an end: step inwards instead
                moved = value - dist.step if value + dist.step > dist.high else value + dist.step
            return int(min(dist.high, max(dist.low, moved)))
        assert isinstance(dist, FloatDistribution)
        lo, hi = (math.log(dist.low), math.log(dist.high)) if dist.log else (dist.low, dist.high)
        x = math.log(value) if dist.log else value
        x = min(hi, max(lo, x + self._rng.normal(0.0, 0.15 * reach * (hi - lo))))
        return _on_grid(dist, math.exp(x) if dist.log else x)

    def _anew(self, dist: BaseDistribution, value: Any) -> Any:
        """A number drawn over its whole range as a random draw would (log-uniform on a log
        scale), other than `value` where a few draws find another point."""
        assert isinstance(dist, (IntDistribution, FloatDistribution))
        lo, hi = (math.log(dist.low), math.log(dist.high)) if dist.log else (dist.low, dist.high)
        point = value
        for _ in range(MOVE_TRIES):
            x = self._rng.uniform(lo, hi)
            point = _on_grid(dist, math.exp(x) if dist.log else x)
            if point != value:
                break
        return point

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        seed = trial_seed(self._seed, trial.number)  # each trial its own draws, as `PerTrialSeeds`
        self._rng, self._random = np.random.RandomState(seed), optuna.samplers.RandomSampler(seed=seed)
        members = self.members(study)
        if len(members) < max(self.startup, self.tournament):
            return
        tried = self._tried(study)
        for _ in range(MUTATION_TRIES):
            parent, target = self.aimed_parent(study, members)
            how = self.kind_of_child()
            child: dict[str, Any] | None = self.aimed_child(parent, target, study.directions, how)
            key: Hashable = True
            if self._complete is not None and child is not None:
                done = self._complete(child, int(self._rng.randint(2**31)), self.within(parent, target))
                child, key = done if done is not None else (None, None)
            if child is not None and key not in tried:
                self._plans[trial.number] = child, Drawn(how, parent.number, target)
                return
        # no new trainable child near the population (it has converged): a random draw explores

    def origin(self, number: int, params: Mapping[str, Any]) -> Drawn | None:
        """How trial `number` was drawn, when it is the child this sampler planned for it (its
        parameters those of the plan). None for a random draw, and for a trial given its
        parameters (a start, a retry of a cut-short trial)."""
        plan, drawn = self._plans.get(number, ({}, None))
        if not plan or any(params.get(k, v) != v for k, v in plan.items()):
            return None
        return drawn

    def _tried(self, study: optuna.Study) -> set[Hashable]:
        """The identities of every configuration the study has drawn (finished ones, computed once)."""
        if self._complete is None:
            return set()
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)):
            if t.number not in self._seen:
                done = self._complete(t.params, 0)
                self._seen[t.number] = done[1] if done else None
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        others = [done[1] for t in running if t.params and (done := self._complete(t.params, 0))]
        return {key for key in self._seen.values() if key is not None} | set(others)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        plan = self._plans.get(trial.number, ({}, None))[0]
        if param_name in plan and _fits(param_distribution, plan[param_name]):
            return plan[param_name]
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._plans.pop(trial.number, None)


def make_sampler(
    spec: SamplerSpec,
    seed: int,
    complete: Complete | None = None,
    cost_limit: float | None = None,
    aim_by: str | None = None,
    recipe: Collection[str] = (),
) -> optuna.samplers.BaseSampler:
    """The sampler `[sampler] kind` names, each trial drawn from its own seed (so runs sharing a
    study propose different configurations). TPE runs with the constant liar, so workers
    sharing a study see each other's running trials; `complete` (the space's) keeps
    evolution's children new and within budget; `cost_limit` (a Pareto study's budget on its
    cost) is the top of evolution's target costs; `aim_by` the parameter it aims them with;
    `spec.targets` the costs they are drawn under; `recipe` the parameters a new layout keeps."""
    if spec.kind == "evolution":
        return EvolutionSampler(
            population=spec.population,
            tournament=spec.tournament,
            startup=spec.startup_trials,
            resample=spec.resample,
            front=spec.front,
            cost_limit=cost_limit,
            aim_by=aim_by,
            marks=spec.targets,
            new_layout=spec.new_layout,
            recipe=recipe,
            parent_reach=spec.parent_reach,
            seed=seed,
            complete=complete,
        )
    if spec.kind == "random":
        return PerTrialSeeds(lambda s: optuna.samplers.RandomSampler(seed=s), seed)
    if spec.kind == "nsga2":
        return PerTrialSeeds(lambda s: optuna.samplers.NSGAIISampler(seed=s), seed)
    return PerTrialSeeds(
        lambda s: optuna.samplers.TPESampler(
            n_startup_trials=spec.startup_trials,
            multivariate=spec.multivariate,
            group=spec.multivariate,
            seed=s,
            constant_liar=True,
        ),
        seed,
    )
