"""Pareto screening: how many trials of a Pareto study a promotion rule stops on its rung,
and what that costs the front, for several `[pruner] peer_floor` values.

A replay, nothing is trained: the study's recorded rung scores are taken in the order the
trials started (a rung's own finishing time is not recorded), and each trial is judged with
the product's rule (`search.study.pruning.climbs`) against the earlier trials on the rung
that cost from `peer_floor` of its parameters up to its own. For each floor: the share of
trials stopped, the cost of a draw as a share of a full run (the rung's share of images x
epochs, plus the full run for those that climb), and the best searched validation accuracy
at each parameter budget among the trials the rule would have trained in full. The study's
trials that were stopped on the rung have no full score, so a floor that lets them climb
can only be scored on the others: the rows are those of the trials that ran in full.

    python benchmarks/pareto_screening.py studies/results/cold/front5k/front5k.db --before 52
"""

from __future__ import annotations

import argparse
from pathlib import Path

import optuna

from search.api import load_study
from search.study.pruning import climbs, costs_between
from search.study.record import StudyRecord, TrialRecord, records
from search.study.spec import StudySpec

FLOORS = (0.0, 0.33, 0.5, 0.67, 0.8)
BUDGETS = (1000, 2000, 3000, 4000, 5000)


def on_rung(study: optuna.Study) -> list[TrialRecord]:
    """The trials with a score on the first rung, as the rule's peers are chosen (complete,
    stopped or running; a failed trial's score lives on in its retry), in starting order."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.RUNNING)
    return sorted((r for r in records(study, states) if r.rungs and r.params is not None), key=lambda r: r.number)


def replay(trials: list[TrialRecord], floor: float, eta: int) -> dict[int, bool]:
    """Whether each trial would have climbed, judged against the earlier ones in its cost window."""
    verdict: dict[int, bool] = {}
    for i, r in enumerate(trials):
        assert r.params is not None
        peers = [p.rungs[0].score for p in trials[:i] if costs_between(p, "params", floor * r.params, r.params)]
        verdict[r.number] = climbs(r.rungs[0].score, peers, eta)
    return verdict


def row(trials: list[TrialRecord], floor: float | None, spec: StudySpec) -> str:
    """One table row; `floor` None: every trial that ran in full, no rule replayed."""
    rung = spec.pruner.ladder[0]
    rung_cost = rung.images * (rung.epochs or spec.budget.max_epochs) / spec.budget.max_epochs
    verdict = {r.number: True for r in trials} if floor is None else replay(trials, floor, spec.pruner.reduction_factor)
    stopped = sum(not v for v in verdict.values())
    cost = rung_cost + (1 - rung_cost) * (len(trials) - stopped) / len(trials)
    full = [r for r in trials if r.value is not None and verdict[r.number]]
    best = [max((r.value for r in full if r.size <= b), default=None) for b in BUDGETS]
    cells = " | ".join("-" if v is None else f"{v:.2f}" for v in best)
    name = "as run (the trials that ran in full)" if floor is None else f"{floor:g}"
    share = "-" if floor is None else f"{stopped} of {len(trials)} ({stopped / len(trials):.0%})"
    return f"| {name} | {share} | {'-' if floor is None else f'{cost:.2f}'} | {cells} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a Pareto study's SQLite database")
    parser.add_argument("--study", default=None, help="its name (default: the file's, as `tinynas search` names it)")
    parser.add_argument("--floors", type=float, nargs="+", default=FLOORS)
    parser.add_argument("--before", type=int, default=None, help="replay only the trials numbered below this")
    args = parser.parse_args()
    study = load_study(args.study or args.db.stem, f"sqlite:///{args.db}")
    name = study.study_name
    spec = StudySpec.model_validate(StudyRecord.of(study).spec)  # the spec it was last run with
    trials = [r for r in on_rung(study) if args.before is None or r.number < args.before]
    head = " | ".join(f"best <= {b // 1000}K" for b in BUDGETS)
    before = "" if args.before is None else f" before trial {args.before}"
    rung = spec.pruner.ladder[0]
    print(
        f"{name}: {len(trials)} trials with a rung score{before}; rung: {rung.images:.0%} of the images, "
        f"{rung.epochs} epochs; reduction factor {spec.pruner.reduction_factor}"
    )
    print(f"| peer_floor | stopped on the rung | cost of a draw (full run = 1) | {head} |")
    print("| --- | --- | --- |" + " --- |" * len(BUDGETS))
    print(row(trials, None, spec))
    for floor in args.floors:
        print(row(trials, floor, spec))


if __name__ == "__main__":
    main()
