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

    python benchmarks/pareto_parents.py studies/results/cold/front5k/front5k.db --before 102
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import get_args

import numpy as np
from optuna.trial import TrialState

from search.api import load_study
from search.study.record import StudyRecord
from search.study.samplers import EvolutionSampler, cost_index, dominates, population
from search.study.spec import FrontRule, StudySpec

BANDS = (1000, 2000, 3000, 4000, 5000)


def band(cost: float) -> int:
    """The index of the first band whose ceiling `cost` is under (the last band takes the rest)."""
    return next((i for i, top in enumerate(BANDS) if cost <= top), len(BANDS) - 1)


def shares(costs: list[float]) -> list[float]:
    counts = np.bincount([band(c) for c in costs], minlength=len(BANDS))
    return list(counts / max(1, len(costs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a Pareto study's SQLite database")
    parser.add_argument("--study", default=None, help="its name (default: the file's, as `tinynas search` names it)")
    parser.add_argument("--tournaments", type=int, default=200, help="per rule and trial")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--before", type=int, default=None, help="replay only the trials numbered below this")
    args = parser.parse_args()
    study = load_study(args.study or args.db.stem, f"sqlite:///{args.db}")
    name = study.study_name
    spec = StudySpec.model_validate(StudyRecord.of(study).spec)  # the spec it was last run with
    cost = cost_index(study.directions)
    if cost is None:
        parser.error(f"{args.db}: study {name} is not one of accuracy against a cost")
    trials = [t for t in study.get_trials(deepcopy=False) if args.before is None or t.number < args.before]
    finished = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    parents: dict[str, list[float]] = {rule: [] for rule in get_args(FrontRule)}
    fronted: dict[str, list[bool]] = {rule: [] for rule in parents}
    drawn: list[float] = []
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
            sampler = EvolutionSampler(
                population=spec.sampler.population,
                tournament=spec.sampler.tournament,
                startup=spec.sampler.startup_trials,
                front=rule,
                cost_limit=spec.cost_limit,
                seed=args.seed + t.number,
            )
            pool = sampler.members_among(then, study.directions)
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


if __name__ == "__main__":
    main()
