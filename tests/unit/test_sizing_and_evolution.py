"""Budget sizing (every draw trainable and near the budget) and the aging-evolution sampler:
children stay inside the space and the budget, never repeat a trial, and a resumed study
continues from its population."""

from __future__ import annotations

import functools
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from models import build, count_params
from search.data import dataset_info
from search.errors import TinynasError
from search.study import SearchOptions, TrialRecord, load_spec, open_study
from search.study.record import MUTATION, NEW_LAYOUT, Kind, StudyKey
from search.study.runner import as_recorded
from search.study.samplers import EvolutionSampler, fitness
from search.study.space import RandomSuggest, TrialSuggest, complete, probe, sample_model, sample_train
from search.study.spec import Budget, FloatRange, IntRange, ModelSpace, Space
from tests.helpers import REPO, make_spec, run_synthetic

MNIST = dataset_info("mnist")
B5K = Budget(max_params=5000, max_epochs=10)
SUB5K = ModelSpace(
    sizing="budget",
    fill=FloatRange(low=0.8, high=1.0),
    stages=3,
    convs_per_stage=IntRange(low=1, high=3),
    channels=IntRange(low=4, high=32, step=2),
    kind=["full", "separable"],
    shared=[0, 2, 3],
    head="conv1x1",
    bias=False,
)


def test_budget_draws_are_within_the_budget_and_near_it() -> None:
    draws = probe(SUB5K, MNIST, B5K, draws=200, seed=3)
    params = [a.params for a in draws if not isinstance(a, str)]
    assert len(params) == 200 and max(params) <= 5000
    assert sorted(params)[100] >= 0.6 * 5000  # the median draw spends most of the budget


def test_channel_draws_of_the_same_space_are_mostly_over_budget() -> None:
    """What budget sizing replaces: the same ranges drawn as channels."""
    draws = probe(SUB5K.model_copy(update={"sizing": "channels"}), MNIST, B5K, draws=200, seed=3)
    assert sum(not isinstance(a, str) and B5K.fits(a) for a in draws) < 0.5 * 200


def test_budget_widths_are_on_the_grid_and_counted_exactly() -> None:
    suggest = RandomSuggest(0)
    for _ in range(10):
        model = sample_model(suggest, SUB5K, MNIST, B5K)
        widths = [layer.out for layer in model.layers if layer.type == "conv" and layer.kernel == 3]
        assert all(w % 2 == 0 and 4 <= w <= 32 for w in widths if w != 1)
        assert count_params(model) == sum(p.numel() for p in build(model).parameters())


def test_a_fuller_fill_never_gives_fewer_parameters() -> None:
    """The solved channels are monotone in the share of the budget (the same relative widths)."""

    class Fixed(RandomSuggest):
        def __init__(self, fill: float) -> None:
            super().__init__(7)
            self.fill = fill

        def float(self, name: str, low: float, high: float, log: bool) -> float:
            return self.fill if name == "fill" else super().float(name, low, high, log)

    space = SUB5K.model_copy(update={"fill": FloatRange(low=0.1, high=1.0)})
    counts = [count_params(sample_model(Fixed(f), space, MNIST, B5K)) for f in (0.2, 0.4, 0.6, 0.8, 1.0)]
    assert counts == sorted(counts) and counts[-1] <= 5000 and counts[0] < counts[-1]


def test_shipped_cold_specs_draw_trainable_models_95_percent_of_the_time() -> None:
    for name in ("sub1k", "sub2k", "sub5k"):
        spec = load_spec(REPO / "studies" / f"{name}.toml")
        assert spec.space.model.sizing == "budget" and not spec.start
        draws = probe(spec.space.model, MNIST, spec.budget, draws=300, seed=0)
        fits = sum(not isinstance(a, str) and spec.budget.fits(a) for a in draws)
        assert fits >= 0.95 * 300, (name, fits)


def test_fill_is_a_share_of_the_budget() -> None:
    with pytest.raises(TinynasError, match="fill is a share"):
        load_from({"space.model.fill": 1.5})


def load_from(overrides: dict):
    from pydantic import ValidationError

    try:
        return make_spec(**overrides)
    except ValidationError as exc:
        raise TinynasError(str(exc)) from None


def _study_with_parents(n: int) -> optuna.Study:
    """A finished population over a small mixed space: one categorical, one int, one float."""
    study = optuna.create_study(direction="maximize")
    dists = {
        "kind": CategoricalDistribution(["full", "separable", "grouped"]),
        "width": IntDistribution(4, 32, step=2),
        "lr": FloatDistribution(1e-3, 1e-1, log=True),
    }
    for i in range(n):
        params = {"kind": ["full", "separable", "grouped"][i % 3], "width": 4 + 2 * (i % 14), "lr": 1e-3 * (1 + i)}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=float(i)))
    return study


def test_children_change_one_or_two_parameters_and_stay_in_their_ranges() -> None:
    study = _study_with_parents(12)
    sampler = EvolutionSampler(population=8, tournament=3, startup=4, seed=0)
    members = sampler.members(study)
    assert [t.number for t in members] == list(range(4, 12))  # the most recent: the oldest aged out
    for _ in range(50):
        parent = sampler.parent(study, members)
        child = sampler.mutate(parent)
        changed = [k for k in child if child[k] != parent.params[k]]
        assert 1 <= len(changed) <= 2
        assert child["kind"] in ("full", "separable", "grouped")
        assert 4 <= child["width"] <= 32 and child["width"] % 2 == 0
        assert 1e-3 <= child["lr"] <= 1e-1


def test_a_mutated_number_sometimes_lands_anywhere_in_its_range() -> None:
    """Moved a little only, a learning rate stays near the first good trial's; drawn anew with
    probability `resample`, a child reaches the far end of the range in one step."""
    study = _study_with_parents(12)
    low = min(study.trials, key=lambda t: t.params["lr"])  # lr 0.001, the low end of 0.001-0.1
    dist = low.distributions["lr"]

    def far_moves(resample: float) -> tuple[int, int]:
        sampler = EvolutionSampler(population=8, tournament=3, startup=4, resample=resample, seed=0)
        moved = [child["lr"] for child in (sampler.mutate(low) for _ in range(1500)) if child["lr"] != 0.001]
        assert all(dist.low <= lr <= dist.high for lr in moved)
        return sum(lr > 0.01 for lr in moved), len(moved)  # the upper half of the range (log scale)

    far, moved = far_moves(0.25)
    assert moved > 300 and far > 0.08 * moved, (far, moved)
    far, moved = far_moves(0.0)
    assert moved > 300 and far < 0.01 * moved, (far, moved)


def test_tournaments_favour_the_better_trials() -> None:
    study = _study_with_parents(16)
    sampler = EvolutionSampler(population=16, tournament=4, seed=1)
    wins = [sampler.parent(study, sampler.members(study)).number for _ in range(200)]
    assert sum(w >= 8 for w in wins) > 0.8 * 200


def _pareto_population() -> optuna.Study:
    """Accuracy against parameters: a front of 5 trials from 500 to 5,000 parameters, 12
    dominated ones between them, and 8 more crowding the cheap end just above the cheapest."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    dist = {"x": FloatDistribution(0, 1)}
    front = [(500, 94.0), (1000, 97.0), (2000, 98.0), (3500, 98.8), (5000, 99.1)]
    dominated = [(c + 100, a - 1.0) for c, a in front[1:] for _ in range(3)]
    crowd = [(510 + 10 * i, 93.0) for i in range(8)]
    for cost, acc in front + dominated + crowd:
        study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions=dist, values=[acc, cost]))
    return study


def test_pareto_parents_are_on_the_front_and_spread_along_it() -> None:
    study = _pareto_population()
    front = {500, 1000, 2000, 3500, 5000}
    sampler = EvolutionSampler(population=25, tournament=4, front="target", cost_limit=5000, seed=0)
    members = sampler.members(study)
    costs = [sampler.parent(study, members).values[1] for _ in range(2000)]
    assert set(costs) == front  # every winner is on the front, and every point of it wins
    assert all(costs.count(c) > 0.05 * len(costs) for c in front)
    dominance = EvolutionSampler(population=25, tournament=4, front="dominance", seed=0)
    old = [dominance.parent(study, members).values[1] for _ in range(2000)]
    assert sum(c not in front for c in old) > 0.2 * len(old)  # the old rule: often a dominated pick
    assert sum(c <= 600 for c in old) > 1.5 * sum(c <= 600 for c in costs)  # and the crowded cheap end


def test_pareto_targets_reach_the_budget_beyond_the_population() -> None:
    study = _pareto_population()
    members = [t for t in study.trials if t.values[1] <= 2000]
    capped = EvolutionSampler(population=25, tournament=4, seed=1)
    budget = EvolutionSampler(population=25, tournament=4, cost_limit=20000, seed=1)
    top = [sum(s.parent(study, members).values[1] == 2000 for _ in range(1000)) for s in (capped, budget)]
    assert top[1] > top[0] + 200  # targets above the costliest member pick it


def test_targets_drawn_at_the_costs_the_front_is_read_at_pick_the_members_nearest_them() -> None:
    study = _pareto_population()
    sampler = EvolutionSampler(population=25, tournament=4, cost_limit=5000, marks=(1000, 3000), seed=0)
    picks = [sampler.aimed_parent(study, study.trials) for _ in range(1000)]
    targets = [target for _, target in picks]
    assert all(850 <= t <= 1000 or 2550 <= t <= 3000 for t in targets)  # just under a mark, never between
    assert 0.4 < sum(t <= 1000 for t in targets) / len(targets) < 0.6  # each mark as often
    midway = (2000 * 3500) ** 0.5  # on a log scale
    assert all(p.values[1] == (1000 if t <= 1000 else 3500 if t > midway else 2000) for p, t in picks)


def test_a_parent_reach_lets_the_fronts_neighbouring_families_parent_a_budgets_children() -> None:
    """One family holds the front just under 2,000 parameters, a better one just above: aimed at
    2,000, the nearest member always wins; with a reach of 1.5 the family above parents a share
    of the children too, and a member beyond the reach never does."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    dist = {"x": FloatDistribution(0, 1)}
    below, above, far = [(1500, 98.3), (1700, 98.5), (1900, 98.8)], [(2400, 99.0), (2700, 99.1)], [(4500, 99.3)]
    for cost, acc in below + above + far:
        study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions=dist, values=[acc, cost]))

    def parents(reach: float) -> list[float]:
        sampler = EvolutionSampler(
            population=6, tournament=2, cost_limit=5000, marks=(2000,), parent_reach=reach, seed=0
        )
        return [sampler.aimed_parent(study, study.trials)[0].values[1] for _ in range(600)]

    assert set(parents(1.0)) <= {1700, 1900}  # the nearest to a target from 1,700 to 2,000
    reached = parents(1.5)
    assert {c for c, _ in below + above} <= set(reached) and 4500 not in reached
    assert 0.25 < sum(c > 2000 for c in reached) / len(reached) < 0.55  # each member within reach as often
    with pytest.raises(ValueError, match="parent_reach"):
        EvolutionSampler(parent_reach=0.5)


def test_an_end_of_the_front_the_population_aged_out_of_still_gets_parents() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    dist = {"x": FloatDistribution(0, 1)}
    old = [(600, 94.0), (900, 97.0), (950, 96.0)]  # the cheap end, finished first; (950, 96) is dominated
    new = [(2000 + 100 * i, 98.0 + 0.05 * i) for i in range(10)]
    for cost, acc in old + new:
        study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions=dist, values=[acc, cost]))
    sampler = EvolutionSampler(population=10, tournament=4, cost_limit=5000, seed=0)
    members = sampler.members(study)
    assert sorted(t.values[1] for t in members)[:3] == [600, 900, 2000]  # the ends' front joins the population
    costs = [sampler.parent(study, members).values[1] for _ in range(1000)]
    assert sum(c < 1000 for c in costs) > 0.2 * len(costs)
    aged = EvolutionSampler(population=10, tournament=4, front="dominance", seed=0).members(study)
    assert min(t.values[1] for t in aged) == 2000  # the dominance rule keeps the population alone


def test_a_front_read_at_budgets_keeps_the_best_trial_near_each_as_a_parent_after_the_population_ages_it_out() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    dist = {"x": FloatDistribution(0, 1)}
    old = [(1900, 98.8)]  # the best under 2,000, found early
    new = [(1000 + 400 * i, 97.0 + 0.2 * i) for i in range(10)]  # the recent trials, all around it, none as good
    for cost, acc in old + new:
        study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions=dist, values=[acc, cost]))

    def parents(marks: tuple[int, ...]) -> list[float]:
        sampler = EvolutionSampler(population=10, tournament=4, cost_limit=5000, marks=marks, seed=0)
        return [sampler.parent(study, sampler.members(study)).values[1] for _ in range(1000)]

    assert 1900 not in parents(marks=())  # aged out: the population's front is read alone
    assert parents(marks=(2000,)).count(1900) > 300  # the study's front is read at 2,000


def test_children_aimed_at_their_target_cost_fill_the_gaps_of_the_front() -> None:
    """A front of two layouts of the front5k space, near 1,000 and 4,000 parameters: a child
    keeps its parent's fill, so the stretch between them gets children only by chance; aimed,
    a child's fill is set to its target cost and the stretch fills, every child still within
    the budget."""
    spec = load_spec(REPO / "studies" / "front5k.toml")
    whole = functools.partial(complete, spec.space, MNIST, spec.budget)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=0))
    for fill, acc in ((0.22, 98.0), (0.85, 99.1)):
        study.enqueue_trial({"fill": fill})
        trial = study.ask()
        model = sample_model(TrialSuggest(trial), spec.space.model, MNIST, spec.budget)
        sample_train(TrialSuggest(trial), spec.space.train, seed=0)
        study.tell(trial, [acc, count_params(model)])
    low, high = sorted(t.values[1] for t in study.trials)
    assert low <= 1100 and high >= 3400, (low, high)

    def children(aim_by: str | None, marks: tuple[int, ...] = ()) -> list[int]:
        sampler = EvolutionSampler(population=2, tournament=2, cost_limit=5000, aim_by=aim_by, marks=marks, seed=3)
        costs = []
        for _ in range(40):
            done = whole(sampler.aimed_child(*sampler.aimed_parent(study, study.trials), study.directions), 0)
            assert done is not None  # trainable, within the budget
            model = sample_model(TrialSuggest(optuna.trial.FixedTrial(done[0])), spec.space.model, MNIST, spec.budget)
            costs.append(count_params(model))
        return costs

    def in_the_gap(costs: list[int]) -> float:
        return sum(1.3 * low < c < high / 1.3 for c in costs) / len(costs)

    kept, aimed = in_the_gap(children(None)), in_the_gap(children("fill"))
    assert kept < 0.15 and aimed > 0.4, (kept, aimed)
    # aimed at a budget the front is read at, they fit under it: each the widest its layout allows there
    at_2k = children("fill", marks=(2000,))
    assert max(at_2k) <= 2000 and sum(c >= 1500 for c in at_2k) / len(at_2k) > 0.75, str(sorted(at_2k))


def _population(space: Space, budget: Budget, values: dict, size: int = 6) -> list[optuna.trial.FrozenTrial]:
    """`size` complete trials of a Pareto study (accuracy, parameters) with these values, the rest
    drawn at random: a population of one family, the better the later."""
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=1))
    for i in range(size):
        study.enqueue_trial(values)
        trial = study.ask()
        model = sample_model(TrialSuggest(trial), space.model, MNIST, budget)
        sample_train(TrialSuggest(trial), space.train, seed=0)
        study.tell(trial, [97.0 + i / 10, count_params(model)])
    return study.trials


def _planned(
    sampler: EvolutionSampler, parents: list[optuna.trial.FrozenTrial], space: Space, budget: Budget, n: int
) -> list[tuple[dict, int]]:
    """The parameters and parameter count of `n` children the sampler plans from these trials
    (none trained)."""
    drawn = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    drawn.add_trials(parents)
    out = []
    for _ in range(n):
        trial = drawn.ask()
        model = sample_model(TrialSuggest(trial), space.model, MNIST, budget)
        sample_train(TrialSuggest(trial), space.train, seed=0)
        out.append((trial.params, count_params(model)))
        drawn.tell(trial, state=TrialState.FAIL)
    return out


def test_a_child_aimed_under_a_budget_fits_it_when_the_space_gained_a_costlier_head() -> None:
    """The front5k space with a `gap` head added after its trials ended in 1x1 convs: a child
    of those draws the new head at random, and a layout whose last conv has one channel per
    class can cost more than the child's target at its narrowest; such a child is passed over
    for another, so every child aimed under 1,000 parameters costs no more, gap heads among
    them."""
    spec = load_spec(REPO / "studies" / "front5k.toml")
    before = spec.space.model_copy(update={"model": spec.space.model.model_copy(update={"head": "conv1x1"})})
    after = spec.space.model_copy(update={"model": spec.space.model.model_copy(update={"head": ["conv1x1", "gap"]})})
    # trials of the old space under 1,000 ending in a shared conv at 7x7
    parents = _population(before, spec.budget, {"fill": 0.19, "tail_convs": 0, "s2_shared": 2})
    whole = functools.partial(complete, after, MNIST, spec.budget)

    def children(within: bool) -> list[tuple[str, int]]:
        check = whole if within else lambda values, seed, within=1.0: whole(values, seed)
        sampler = EvolutionSampler(
            population=6, tournament=2, startup=2, cost_limit=5000, aim_by="fill", marks=(1000,), seed=0, complete=check
        )
        return [(params["head"], cost) for params, cost in _planned(sampler, parents, after, spec.budget, 30)]

    aimed = children(within=True)
    assert max(cost for _, cost in aimed) <= 1000 and any(head == "gap" for head, _ in aimed), aimed
    assert max(cost for _, cost in children(within=False)) > 1000  # the gap heads' narrowest cost more


def test_a_new_layout_child_trains_its_parents_recipe_on_a_layout_drawn_anew_within_its_target() -> None:
    """A population of one layout family and one recipe (the shape a study's front takes when
    every child mutates one or two parameters): under `new_layout` a child keeps its parent's
    recipe, draws its layout at random, and still costs no more than its target."""
    spec = load_spec(REPO / "studies" / "front5k.toml")
    assert "lr" in spec.recipe_params and "fill" not in spec.recipe_params and "head" not in spec.recipe_params
    recipe = {"lr": 0.018, "batch_size": 32, "scheduler": "linear", "ema": 0.999, "rotate": 5.0}
    family = {"fill": 0.19, "tail_convs": 2, "s0_shared": 2, "head": "conv1x1"}
    parents = _population(spec.space, spec.budget, recipe | family)
    whole = functools.partial(complete, spec.space, MNIST, spec.budget)

    def children(new_layout: float) -> list[tuple[dict, int]]:
        sampler = EvolutionSampler(
            population=6, tournament=2, startup=2, cost_limit=5000, aim_by="fill", marks=(1000,),
            new_layout=new_layout, recipe=spec.recipe_params, seed=0, complete=whole,
        )  # fmt: skip
        return _planned(sampler, parents, spec.space, spec.budget, 20)

    def families(kids: list[tuple[dict, int]]) -> set[tuple]:
        return {tuple(params[k] for k in family if k != "fill") for params, _ in kids}

    anew = children(new_layout=1.0)
    assert all(params[k] == v for params, _ in anew for k, v in recipe.items())
    assert max(cost for _, cost in anew) <= 1000, [cost for _, cost in anew]
    assert len(families(anew)) >= 6, families(anew)  # of 3 x 3 x 2 tails, shares and heads
    assert len(families(children(new_layout=0.0))) <= 4  # a mutation changes one or two of ~30


def test_a_pruned_trial_competes_with_its_last_report_and_an_untrained_one_not_at_all() -> None:
    dist = {"x": FloatDistribution(0, 1)}
    pruned = optuna.trial.create_trial(
        params={"x": 0.5}, distributions=dist, state=TrialState.PRUNED, intermediate_values={5: 90.0, 10: 95.0}
    )
    untrained = optuna.trial.create_trial(params={"x": 0.5}, distributions=dist, state=TrialState.PRUNED)
    assert fitness(pruned) == [95.0] and fitness(untrained) is None


def _evolution_spec(**overrides):
    return make_spec(
        **{
            "space.model.sizing": "budget",
            "space.model.fill": {"low": 0.5, "high": 1.0},
            "space.model.channels": {"low": 2, "high": 16, "step": 2},
            "space.model.kind": ["full", "separable"],
            "budget.max_params": 600,
            "sampler.kind": "evolution",
            "sampler.startup_trials": 3,
            "sampler.population": 6,
            "sampler.tournament": 2,
            **overrides,
        }
    )


def test_an_evolution_study_trains_only_new_configurations_within_budget(tmp_path: Path) -> None:
    spec = _evolution_spec()
    study = run_synthetic(spec, tmp_path / "e.db", trials=10)
    records = [TrialRecord.of(t) for t in study.trials]
    assert all(r.kind in (Kind.COMPLETE, Kind.PRUNED) for r in records)  # no draw over budget or invalid
    assert all(r.params is not None and r.params <= 600 for r in records)
    configs = [str(r.config) for r in records]
    assert len(set(configs)) == len(configs)  # never the same configuration twice


def test_a_resumed_evolution_study_continues_from_its_population(tmp_path: Path) -> None:
    spec = _evolution_spec()
    db = tmp_path / "e.db"
    before = run_synthetic(spec, db, trials=6)
    parents = [t.params for t in before.trials]
    study = run_synthetic(spec, db, trials=9)
    for child in study.trials[6:]:  # each new trial is a parent of the first run with few changes
        nearest = min(
            sum(child.params.get(k) != v for k, v in p.items())
            for p in parents + [t.params for t in study.trials[6 : child.number]]
        )
        assert nearest <= 4, child.params  # one or two mutated, plus the few a new stage or head brings


def test_each_child_records_how_it_was_drawn_and_its_parent_and_a_given_trial_none(tmp_path: Path) -> None:
    lr = {"low": 0.005, "high": 0.05, "log": True}  # a recipe value drawn, which a new layout keeps
    spec = _evolution_spec(
        objectives="accuracy+params", **{"sampler.aim": True, "sampler.new_layout": 0.5, "space.train.lr": lr}
    )
    db = tmp_path / "d.db"
    run_synthetic(spec, db, trials=10)
    drawn = optuna.load_study(study_name=spec.name, storage=f"sqlite:///{db}")
    drawn.enqueue_trial(drawn.trials[0].params)  # a configuration given to the study
    study = run_synthetic(spec, db, trials=11)
    records = [TrialRecord.of(t) for t in study.trials]
    assert all(r.drawn is None for r in records[:3]) and records[10].drawn is None  # random draws; a given one
    children = [r for r in records[3:10] if r.drawn]
    assert len(children) >= 5 and {r.drawn.how for r in children} == {MUTATION, NEW_LAYOUT}
    for r in children:
        parent = records[r.drawn.parent]
        assert parent.number < r.number and r.drawn.target is not None
        changed = {k for k in parent.sampled.keys() | r.sampled.keys() if parent.sampled.get(k) != r.sampled.get(k)}
        if r.drawn.how == MUTATION:
            assert len(changed - {"fill"}) <= 4, changed  # one or two mutated, plus a new stage's few
        else:
            assert "lr" in r.sampled and not changed & spec.recipe_params, changed  # its parent's recipe
            assert len(changed) > 4, changed  # on a layout drawn anew


@pytest.mark.parametrize("aim", [False, True])
def test_evolution_works_with_two_objectives(tmp_path: Path, aim: bool) -> None:
    spec = _evolution_spec(objectives="accuracy+params", **{"sampler.aim": aim})
    study = run_synthetic(spec, tmp_path / "m.db", trials=8)
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) >= 4
    assert all(len(t.values) == 2 for t in study.trials if t.state == TrialState.COMPLETE)


def test_a_completed_child_names_every_parameter_and_what_it_trains() -> None:
    spec = _evolution_spec()
    info = dataset_info("mnist")
    values = {"head": "conv1x1", "tail_convs": 0, "fill": 0.9, "s0_w0": 0.5, "s1_w0": 0.5}
    whole, key = complete(spec.space, info, Budget(max_params=600, max_epochs=5), values, seed=0) or ({}, "")
    assert whole.items() >= values.items() and {"order", "s0_kind", "pool0_transition"} <= set(whole)
    assert complete(spec.space, info, Budget(max_params=600, max_epochs=5), whole, seed=1) == (
        whole,
        key,
    )  # nothing left to draw
    same = complete(
        spec.space, info, Budget(max_params=600, max_epochs=5), whole | {"s1_w0": 0.5001}, seed=0
    )  # the same channels
    other = complete(
        spec.space, info, Budget(max_params=600, max_epochs=5), whole | {"s0_w0": 0.0, "s1_w0": 1.0}, seed=0
    )
    assert same is not None and same[1] == key and other is not None and other[1] != key
    assert complete(spec.space, info, Budget(max_params=10, max_epochs=5), whole, seed=0) is None  # over this budget


def _without_sizing(spec):
    data = spec.model_dump(mode="json")
    del data["space"]["model"]["sizing"]
    return type(spec).model_validate(data), data


def test_a_study_begun_before_budget_sizing_resumes_as_it_was_drawn(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    study = run_synthetic(make_spec(), db, trials=2)  # widths drawn as channels
    old_spec, recorded = _without_sizing(make_spec())
    study.set_user_attr(StudyKey.SPEC, recorded)  # what a study made before `sizing` existed recorded
    assert old_spec.space.model.sizing == "budget"  # today's default...
    resumed = as_recorded(old_spec, f"sqlite:///{db}")
    assert resumed.space.model.sizing == "channels"  # ...but the study decides
    study = run_synthetic(resumed, db, trials=4)
    assert all("s0_c0" in t.params for t in study.trials if TrialRecord.of(t).kind is Kind.COMPLETE)


def test_a_spec_that_names_another_sizing_than_its_study_is_refused_before_any_change(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run_synthetic(make_spec(), db, trials=2)
    before = db.read_bytes()
    spec = make_spec(**{"space.model.sizing": "budget"})
    opts = SearchOptions(storage=f"sqlite:///{db}", trials=4, data_root=tmp_path)
    with pytest.raises(TinynasError, match="sizing = 'channels' to resume it"):
        open_study(as_recorded(spec, opts.storage), opts)
    assert db.read_bytes() == before


def test_a_mutated_width_changes_the_model_it_names() -> None:
    """Under budget sizing a relative width moved a little often solves to the same channels;
    a child that mutates only widths must still train another model than its parent."""
    spec = load_spec(REPO / "studies" / "sub5k.toml")
    whole = functools.partial(complete, spec.space, MNIST, spec.budget)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    while len(study.trials) < 12:
        trial = study.ask()
        try:
            sample_model(TrialSuggest(trial), spec.space.model, MNIST, spec.budget)
        except ValueError:
            study.tell(trial, state=TrialState.FAIL)
            continue
        sample_train(TrialSuggest(trial), spec.space.train, seed=0)
        study.tell(trial, 99.0)
    parents = [t for t in study.trials if t.state == TrialState.COMPLETE and whole(t.params, 0)]
    sampler = EvolutionSampler(seed=1, complete=whole)
    widths_only = same = 0
    for parent in parents * 15:
        child = sampler.mutate(parent)
        changed = {k for k in child if child[k] != parent.params[k]}
        if changed and all("_w" in k for k in changed):
            widths_only += 1
            after = whole(child, 0)
            same += after is not None and after[1] == whole(parent.params, 0)[1]
    assert widths_only >= 10 and same <= 0.2 * widths_only, (same, widths_only)
