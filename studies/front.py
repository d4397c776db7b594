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
from typing import Any

import pandas as pd

from search.study import Kind, pareto_front


def best_under(done: pd.DataFrame, budget: int) -> Any:
    """The row label of the best searched score among the trials of at most `budget`
    parameters; None when none is that cheap."""
    within = done.loc[done["params"] <= budget, "val_acc"]
    return within.idxmax() if not within.empty else None


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _score(done: pd.DataFrame, label: Any) -> str:
    return "-" if label is None else f"{done.at[label, 'val_acc']:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="a trials table, as `tinynas trials STUDY --csv` writes it")
    parser.add_argument("--budgets", type=int, nargs="+", default=[1000, 2000, 3000, 4000, 5000])
    parser.add_argument("--after", type=int, nargs="*", default=[], help="also the best as of these trial numbers")
    parser.add_argument("--columns", type=int, default=13, help="front members per table")
    args = parser.parse_args()

    trials = pd.read_csv(args.csv)
    done = trials[trials["state"] == Kind.COMPLETE.value].dropna(subset=["val_acc", "params"])
    counts = trials["state"].value_counts()
    print(f"{len(trials)} trials: " + ", ".join(f"{n} {state.lower()}" for state, n in counts.items()) + "\n")

    front = pareto_front(trials)
    bests = {best_under(done, b) for b in args.budgets}
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
        upto = done[done["number"] <= n]
        print(_row([n, *(_score(upto, best_under(upto, b)) for b in args.budgets)]))


if __name__ == "__main__":
    main()
