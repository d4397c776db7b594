"""A Pareto study's front and its best under each budget, from its trials table (`tinynas
trials STUDY --csv FILE`), as Markdown tables (studies/results/README.md, the front5k study).

    python studies/front.py studies/results/cold/front5k/trials.csv \\
        --budgets 1000 2000 3000 4000 5000 --after 82 164 198 229 264 299

Prints the trials' states, the front (the complete trials no other complete trial beats on
both searched validation accuracy and parameters), and for each `--after N` the best searched
validation accuracy under each budget among trials 0..N (the last row: all of them). Every
number is a trial's searched score (`val_acc`: the study's epoch rule, one seed), as the
search recorded it: nothing here reads a test set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def pareto_front(done: pd.DataFrame) -> pd.DataFrame:
    """The complete trials no other beats: fewer or as many parameters and a higher score, or
    fewer parameters and as high a score. Cheapest first."""
    ranked = done.sort_values(["params", "val_acc"], ascending=[True, False])
    best = ranked["val_acc"].cummax().shift(fill_value=-1.0)
    return ranked[ranked["val_acc"] > best]


def best_under(done: pd.DataFrame, budgets: list[int]) -> list[float | None]:
    """The best searched score among the trials of at most each budget's parameters."""
    return [done.loc[done["params"] <= b, "val_acc"].max() if (done["params"] <= b).any() else None for b in budgets]


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _score(value: float | None) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="a trials table, as `tinynas trials STUDY --csv` writes it")
    parser.add_argument("--budgets", type=int, nargs="+", default=[1000, 2000, 3000, 4000, 5000])
    parser.add_argument("--after", type=int, nargs="*", default=[], help="also the best as of these trial numbers")
    parser.add_argument("--columns", type=int, default=13, help="front members per table")
    args = parser.parse_args()

    trials = pd.read_csv(args.csv)
    done = trials[trials["state"] == "COMPLETE"].dropna(subset=["val_acc", "params"])
    counts = trials["state"].value_counts()
    print(f"{len(trials)} trials: " + ", ".join(f"{n} {state.lower()}" for state, n in counts.items()) + "\n")

    front = pareto_front(done)
    bests = {done.loc[done["params"] <= b, "val_acc"].idxmax() for b in args.budgets if (done["params"] <= b).any()}
    for start in range(0, len(front), args.columns):
        part = front.iloc[start : start + args.columns]
        bold = [i in bests for i in part.index]
        print(_row(["params", *(f"**{p:,}**" if b else f"{p:,}" for p, b in zip(part["params"], bold, strict=True))]))
        print(_row(["---"] * (len(part) + 1)))
        print(
            _row(["val. %", *(f"**{v:.2f}**" if b else f"{v:.2f}" for v, b in zip(part["val_acc"], bold, strict=True))])
        )
        print(_row(["trial", *part["number"]]) + "\n")

    print(_row(["after trial", *(f"≤ {b // 1000}K" if b % 1000 == 0 else f"≤ {b:,}" for b in args.budgets)]))
    print(_row(["---"] * (len(args.budgets) + 1)))
    last = int(trials["number"].max())
    for n in sorted({*args.after, last}):
        print(_row([n, *(_score(v) for v in best_under(done[done["number"] <= n], args.budgets))]))


if __name__ == "__main__":
    main()
