"""The README's results table, from retrain run folders (their summary.json and experiment.json).

    python studies/table.py studies/results/retrains/*/

One Markdown row per folder: model, parameters, MACs, epochs, seeds, test accuracy at the
final epoch per seed, mean +- sample std, the lowest test accuracy over any seed's last 3
epochs, and the retrain's wall time. Nothing here chooses an epoch: every number is the
final epoch's or the last-3 minimum, as `tinynas retrain` recorded it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HEADER = (
    "| model | params | MACs | epochs | seeds | test acc. final epoch, per seed | mean ± std "
    "| min of last 3 (worst seed) | retrain wall |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def row(folder: Path) -> str:
    summary = json.loads((folder / "summary.json").read_text())
    name = json.loads((folder / "experiment.json").read_text())["model"].get("name") or folder.name
    seeds = summary["seeds"]
    per_seed = ", ".join(f"{a:.2f}" for a in summary["final_acc"])
    wall = sum(summary["seconds"])  # fused seeds each record their share of the run's wall time
    return (
        f"| {name} (`{folder.name}`) | {summary['params']:,} | {summary['macs']:,} | {summary['epochs']} "
        f"| {', '.join(map(str, seeds))} | {per_seed} "
        f"| {summary['final_acc_mean']:.2f} ± {summary['final_acc_std']:.2f} | {min(summary['last3_min']):.2f} "
        f"| {wall / 60:.0f} min |"
    )


if __name__ == "__main__":
    folders = [Path(a) for a in sys.argv[1:]]
    if not folders or any(not (f / "summary.json").is_file() for f in folders):
        sys.exit("usage: python studies/table.py RETRAIN_FOLDER...  (each holding a finished retrain's summary.json)")
    print(HEADER)
    for f in folders:
        print(row(f))
