"""Draws under a budget: how many uniform random draws of a space are trainable, and how
much of the budget they spend, with widths drawn as channels and with budget sizing.

Analytic (parameters come from the config alone): nothing is trained, no data is read, a
few seconds per spec. For each spec, both sizings of the same ranges are drawn; "trainable"
is a valid model within budget.max_params, and the parameter counts of the trainable draws
are given as shares of the budget (quantiles).

    python benchmarks/budget_draws.py studies/sub1k.toml studies/sub2k.toml studies/sub5k.toml
    python benchmarks/budget_draws.py studies/results/sub5k-v6/sub5k.toml --draws 2000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from search.data import dataset_info
from search.study import load_spec
from search.study.space import probe

QUANTILES = (0.1, 0.5, 0.9)


def row(path: Path, sizing: str, draws: int, seed: int) -> str:
    spec = load_spec(path)
    space = spec.space.model.model_copy(update={"sizing": sizing})
    budget = spec.budget.max_params
    draws_made = probe(space, dataset_info(spec.dataset), spec.budget, draws, seed)
    fits = np.array([a.params / budget for a in draws_made if not isinstance(a, str) and spec.budget.fits(a)])
    shares = " | ".join(f"{q:.2f}" for q in np.quantile(fits, QUANTILES)) if len(fits) else " | ".join("-" * 3)
    return f"| `{path}` | {budget:,} | {sizing} | {len(fits) / draws:.1%} | {shares} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="+", type=Path)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    head = " | ".join(f"p{round(100 * q)} of budget" for q in QUANTILES)
    print(f"{args.draws:,} uniform random draws per row, seed {args.seed}")
    print(f"| spec | max_params | sizing | trainable | {head} |")
    print("| --- | --- | --- | --- |" + " --- |" * len(QUANTILES))
    for path in args.specs:
        for sizing in ("channels", "budget"):
            print(row(path, sizing, args.draws, args.seed))


if __name__ == "__main__":
    main()
