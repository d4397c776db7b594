"""Mutations that change what they train: how often an evolution child trains the very model
and recipe of its parent, with each mutated parameter moved once, and moved again until what
the child trains changes (as the search's sampler does, up to `MOVE_TRIES`).

Under budget sizing the channels are solved from relative widths, so a relative width moved
a little often solves to the same channels: a mutation that changes nothing. Analytic
(nothing is trained, no data is read; minutes per spec): random parents are drawn from each
space within its budget, each mutated `--children` times.

    python benchmarks/mutations.py studies/sub1k.toml studies/sub5k.toml studies/front5k.toml

A second table says how far a mutated real number (a relative width, `fill`, a recipe value
such as the learning rate) lands from its parent's, as a share of its range (on a log scale
where the space draws it so), with the sampler's chance of drawing a mutated number anew over
its whole range (`resample`) and without (each move drawn once): moved a little only, a
number stays near where the first good trial had it.
"""

from __future__ import annotations

import argparse
import functools
import math
from pathlib import Path

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from search.data import dataset_info
from search.quiet import quiet_libraries
from search.study import load_spec
from search.study.samplers import EvolutionSampler
from search.study.space import TrialSuggest, complete, sample_model, sample_train
from search.study.spec import StudySpec


def parents(spec: StudySpec, whole: functools.partial, n: int, seed: int) -> list[FrozenTrial]:
    """n random draws of the space within its budget, as trials a tournament could pick."""
    info = dataset_info(spec.dataset)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
    while sum(t.state == TrialState.COMPLETE for t in study.trials) < n:
        trial = study.ask()
        try:
            sample_model(TrialSuggest(trial), spec.space.model, info, spec.budget)
            sample_train(TrialSuggest(trial), spec.space.train, seed=0)
        except ValueError:
            study.tell(trial, state=TrialState.FAIL)
            continue
        fits = whole(trial.params, 0) is not None
        study.tell(trial, 0.0 if fits else None, state=TrialState.COMPLETE if fits else TrialState.FAIL)
    return [t for t in study.trials if t.state == TrialState.COMPLETE]


def _whole(spec: StudySpec) -> functools.partial:
    return functools.partial(complete, spec.space, dataset_info(spec.dataset), spec.budget)


def unchanged(whole: functools.partial, sampler: EvolutionSampler, trials: list[FrozenTrial], children: int) -> tuple:
    """(children that mutated relative widths only, of them those that train their parent's
    model, children in all, of them those that train exactly what their parent does)."""
    widths = widths_same = same = 0
    for parent in trials:
        before = whole(parent.params, 0)[1]
        for _ in range(children):
            child = sampler.mutate(parent)
            after = whole(child, 0)
            alike = after is not None and after[1] == before
            same += alike
            if all("_w" in k for k in child if child[k] != parent.params[k]):
                widths, widths_same = widths + 1, widths_same + alike
    return widths, widths_same, len(trials) * children, same


def _position(dist: FloatDistribution, value: float) -> float:
    """Where `value` lies in the distribution's range, 0 to 1 (on a log scale for a log one)."""
    f = math.log if dist.log else float
    return (f(value) - f(dist.low)) / (f(dist.high) - f(dist.low))


def reach(sampler: EvolutionSampler, trials: list[FrozenTrial], children: int) -> tuple[int, int, int]:
    """(real numbers mutated, of them those landing over a quarter of their range away from
    the parent's value, of them those over half of it away). Integers are left out: most
    ranges of whole numbers are a few points wide, where any step is a large share."""
    moved = far = farther = 0
    for parent in trials:
        for _ in range(children):
            child = sampler.mutate(parent)
            for name, dist in parent.distributions.items():
                if isinstance(dist, FloatDistribution) and child[name] != parent.params[name]:
                    gap = abs(_position(dist, child[name]) - _position(dist, parent.params[name]))
                    moved, far, farther = moved + 1, far + (gap > 0.25), farther + (gap > 0.5)
    return moved, far, farther


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="+", type=Path)
    parser.add_argument("--parents", type=int, default=50)
    parser.add_argument("--children", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    quiet_libraries()
    print(f"{args.parents} random parents per spec (seed {args.seed}), {args.children} children each")
    drawn = []  # (path, spec, its completion, its random parents): both tables mutate the same parents
    for path in args.specs:
        spec = load_spec(path)
        whole = _whole(spec)
        drawn.append((path, spec, whole, parents(spec, whole, args.parents, args.seed)))
    print("| spec | moves | width-only children training the parent's model | children training what the parent does |")
    print("| --- | --- | --- | --- |")
    for path, _, whole, trials in drawn:
        for moves, known in (("drawn once", None), ("drawn again", whole)):
            sampler = EvolutionSampler(seed=args.seed, complete=known)
            w, ws, n, s = unchanged(whole, sampler, trials, args.children)
            print(f"| `{path}` | {moves} | {ws / max(w, 1):.1%} of {w:,} | {s / n:.1%} of {n:,} |")
    print("\n| spec | resample | mutated real numbers landing over 1/4 of their range away | over 1/2 |")
    print("| --- | --- | --- | --- |")
    for path, spec, _, trials in drawn:
        for chance in (0.0, spec.sampler.resample):
            sampler = EvolutionSampler(seed=args.seed, resample=chance)  # each move drawn once
            n, far, farther = reach(sampler, trials, args.children)
            print(f"| `{path}` | {chance:g} | {far / n:.1%} of {n:,} | {farther / n:.1%} |")


if __name__ == "__main__":
    main()
