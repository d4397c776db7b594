"""Where a Pareto study's evolution spends its children: the cost of the parents each rule
of `[sampler] front` picks, replayed on a study's own populations.

A replay, nothing is trained: for each trial of the study drawn after its random start, the
population is rebuilt as it stood when the trial began (the `population` most recently
finished complete trials; for `target`, with the study's front members beyond its costs, as
the sampler adds them), and each rule picks `--tournaments` parents from it. The table gives
the share of the parents in each cost band (a child mostly stays in its parent's band: one
or two parameters change), the share that no member of their population dominates (a parent
on the front, where improving the front starts), and the bands of the trials the study
actually drew. A rule that leaves a band without parents leaves that stretch of the front to
the random start and to the odd long mutation.

With `--children N`, N children per trial of the "target" rule are also made as the sampler
makes them (mutated, completed within the budget, their cost counted from the config), with
its children aimed (`[sampler] aim`) and without, and aimed at targets drawn just under the
bands' ceilings (`[sampler] targets = [1000, ..., 5000]`), and a second table gives their
cost bands, how far from their target cost they land, how many land just under a ceiling
(where the front is read: from NEAR_MARK of it up to it) and how many cross a band's ceiling
downwards (a parent over 1K, 2K, ... whose child fits under it). A last table gives the best
score under each ceiling that the parents of the study's last trial could be drawn from: the
population (with the ends of the study's front), the population with the study's whole front
(as `[sampler] targets` has it), and the study.

    python benchmarks/pareto_parents.py studies/results/cold/front5k/front5k.db --before 102
    python benchmarks/pareto_parents.py studies/results/cold/front5k/front5k.db --children 20
"""

from __future__ import annotations

import argparse
import itertools
import math
from pathlib import Path
from typing import get_args

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from models import analyse
from search.api import load_study
from search.data import DatasetInfo, dataset_info
from search.study.record import StudyRecord
from search.study.samplers import NEAR_MARK, EvolutionSampler, cost_index, dominates, population
from search.study.space import TrialSuggest, complete, sample_model
from search.study.spec import FILL, FrontRule, StudySpec

BANDS = (1000, 2000, 3000, 4000, 5000)


def band(cost: float) -> int:
    """The index of the first band whose ceiling `cost` is under (the last band takes the rest)."""
    return next((i for i, top in enumerate(BANDS) if cost <= top), len(BANDS) - 1)


def shares(costs: list[float]) -> list[float]:
    counts = np.bincount([band(c) for c in costs], minlength=len(BANDS))
    return list(counts / max(1, len(costs)))


def near_a_ceiling(cost: float) -> bool:
    """Whether `cost` lies just under a band's ceiling, where a budget's best model is read."""
    return any(NEAR_MARK * top <= cost <= top for top in BANDS)


def sampler_for(
    spec: StudySpec, rule: FrontRule, seed: int, aim_by: str | None = None, marks: tuple[int, ...] = ()
) -> EvolutionSampler:
    s = spec.sampler
    return EvolutionSampler(
        population=s.population,
        tournament=s.tournament,
        startup=s.startup_trials,
        front=rule,
        cost_limit=spec.cost_limit,
        aim_by=aim_by,
        marks=marks,
        seed=seed,
    )


def children(
    spec: StudySpec,
    info: DatasetInfo,
    study: optuna.Study,
    then: list[FrozenTrial],
    n: int,
    seed: int,
    aim_by: str | None,
    marks: tuple[int, ...] = (),
) -> list[tuple[float, float, float]]:
    """(parent's cost, child's cost, target) for n children of the "target" rule, each mutated,
    aimed or not, and completed within the budget as the sampler does (untrainable ones, and
    aimed ones over their target at their narrowest, left out), their parents drawn from the
    members the sampler would have when `then` were finished."""
    cost, figure = cost_index(study.directions), spec.cost or "params"
    sampler = sampler_for(spec, "target", seed, aim_by, marks)
    pool = sampler.members_among(then, study.directions)
    made = []
    for i in range(n):
        parent, target = sampler.aimed_parent(study, pool)
        child, within = sampler.aimed_child(parent, target, study.directions), sampler.within(parent, target)
        done = complete(spec.space, info, spec.budget, child, i, within)
        if done is None or target is None or cost is None:
            continue
        model = sample_model(TrialSuggest(optuna.trial.FixedTrial(done[0])), spec.space.model, info, spec.budget)
        made.append((parent.values[cost], float(getattr(analyse(model), figure)), target))
    return made


def children_table(made: dict[str, list[tuple[float, float, float]]]) -> None:
    heads = ["<= 1K"] + [f"{lo // 1000}-{hi // 1000}K" for lo, hi in itertools.pairwise(BANDS)]
    near = f"{1 - NEAR_MARK:.0%} under a ceiling"
    print("| children of target | " + " | ".join(heads) + f" | median distance to target | {near} | crossing down |")
    print("|---|" + "---|" * (len(BANDS) + 3))
    for arm, rows in made.items():
        cells = " | ".join(f"{s:.0%}" for s in shares([c for _, c, _ in rows]))
        gap = float(np.median([abs(math.log(c / t)) for _, c, t in rows]))
        crossed = sum(band(c) < band(p) for p, c, _ in rows)
        under = np.mean([near_a_ceiling(c) for _, c, _ in rows])
        print(
            f"| {arm} ({len(rows)}) | {cells} | x{math.exp(gap):.2f} | {under:.0%} | {crossed} ({crossed / len(rows):.0%}) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a Pareto study's SQLite database")
    parser.add_argument("--study", default=None, help="its name (default: the file's, as `tinynas search` names it)")
    parser.add_argument("--tournaments", type=int, default=200, help="per rule and trial")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--before", type=int, default=None, help="replay only the trials numbered below this")
    parser.add_argument("--children", type=int, default=0, help="children per trial, aimed and not (0: none)")
    args = parser.parse_args()
    study = load_study(args.study or args.db.stem, f"sqlite:///{args.db}")
    name = study.study_name
    spec = StudySpec.model_validate(StudyRecord.of(study).spec)  # the spec it was last run with
    cost = cost_index(study.directions)
    if cost is None:
        parser.error(f"{args.db}: study {name} is not one of accuracy against a cost")
    trials = [t for t in study.get_trials(deepcopy=False) if args.before is None or t.number < args.before]
    finished = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    parents: dict[FrontRule, list[float]] = {rule: [] for rule in get_args(FrontRule)}
    fronted: dict[str, list[bool]] = {rule: [] for rule in parents}
    drawn: list[float] = []
    arms = {"kept fill": (None, ()), "aimed": (FILL, ()), "aimed at the ceilings": (FILL, BANDS)}
    made: dict[str, list[tuple[float, float, float]]] = {arm: [] for arm in arms}
    info = dataset_info(spec.dataset, spec.resize)  # once: every child is completed on it
    for t in trials:
        if t.datetime_start is None:
            continue  # waiting to run
        then = [f for f in finished if f.datetime_complete and f.datetime_complete < t.datetime_start]
        members = population(then, spec.sampler.population, len(study.directions))
        if len(members) < max(spec.sampler.startup_trials, spec.sampler.tournament, 2):
            continue  # a random draw of the study's start
        if t.values:
            drawn.append(t.values[cost])
        for rule in parents:
            sampler = sampler_for(spec, rule, args.seed + t.number)
            pool = sampler.members_among(then, study.directions)
            if rule == "target" and args.children:
                for arm, (aim_by, marks) in arms.items():
                    seed = args.seed + t.number
                    made[arm] += children(spec, info, study, then, args.children, seed, aim_by, marks)
            won = [sampler.parent(study, pool) for _ in range(args.tournaments)]
            parents[rule] += [w.values[cost] for w in won]
            fronted[rule] += [not any(dominates(m.values, w.values, study.directions) for m in members) for w in won]
    heads = ["<= 1K"] + [f"{lo // 1000}-{hi // 1000}K" for lo, hi in itertools.pairwise(BANDS)]
    print(f"{name}: {len(drawn)} complete trials drawn after the random start; cost bands of")
    print("| parents | " + " | ".join(heads) + " | on the population's front |")
    print("|---|" + "---|" * (len(BANDS) + 1))
    for rule, costs in parents.items():
        cells = " | ".join(f"{s:.0%}" for s in shares(costs))
        print(f"| {rule} (replayed) | {cells} | {np.mean(fronted[rule]):.0%} |")
    print("| the trials drawn (as run) | " + " | ".join(f"{s:.0%}" for s in shares(drawn)) + " | - |")
    if args.children:
        print()
        children_table(made)
    print()
    best_kept(spec, finished, study.directions)


def best_kept(spec: StudySpec, finished: list[FrozenTrial], directions: list[optuna.study.StudyDirection]) -> None:
    """The best score under each band's ceiling among the parents' candidates of the "target"
    rule at the study's end: the population with its front's ends, the population with the
    study's whole front (`[sampler] targets`), and the study."""
    cost = cost_index(directions)
    assert cost is not None, "a study of accuracy against a cost"
    acc = 1 - cost
    pools = {
        "population and its ends": sampler_for(spec, "target", 0).members_among(finished, directions),
        "with the study's front": sampler_for(spec, "target", 0, marks=BANDS).members_among(finished, directions),
        "the study": finished,
    }
    print("| best candidate under | " + " | ".join(f"{top:,}" for top in BANDS) + " |")
    print("|---|" + "---|" * len(BANDS))
    for name, pool in pools.items():
        best = [
            max((t.values[acc] for t in pool if t.values and t.values[cost] <= top), default=math.nan) for top in BANDS
        ]
        print(f"| {name} | " + " | ".join(f"{b:.2f}" for b in best) + " |")


if __name__ == "__main__":
    main()
