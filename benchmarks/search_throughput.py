"""How many configurations a search trains in the same wall time: tinynas's defaults against
earlier settings, on the same spec, one after another on the same machine.

Each arm runs `tinynas.search` on the spec (its own confirmation step left out: it runs after
the search's time) for --minutes into a fresh SQLite file. Counted per arm: trained
configurations, i.e. trials that trained and ended (complete or pruned; over-budget draws are
never trained) within the time, and the epochs those configurations trained (a configuration
trained with 2 seeds fused counts its epochs once).

    python benchmarks/search_throughput.py --data-dir data --spec studies/sub5k.toml --minutes 15
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

import search as tinynas
from search.data import data_root
from search.quiet import quiet_libraries
from search.study import Kind, TrialRecord, load_spec
from search.training import cpu_name

ARMS = {
    "earlier settings: 2 seeds per trial (fused), 1 worker x 1 thread": {
        "seeds_per_trial": 2,
        "jobs": 1,
        "threads": 1,
    },
    "defaults: 1 seed per trial, the default workers x threads": {"seeds_per_trial": 1},
}


def count(study, started: datetime, budget_s: float) -> tuple[int, int, int]:
    """(trained configurations, of which complete, epochs trained) ending within the budget."""
    configs = complete = epochs = 0
    for trial in study.get_trials(deepcopy=False):
        record = TrialRecord.of(trial)
        if record.kind not in (Kind.COMPLETE, Kind.PRUNED) or trial.datetime_complete is None:
            continue
        if (trial.datetime_complete - started).total_seconds() <= budget_s:
            configs += 1
            complete += record.kind is Kind.COMPLETE
            epochs += len(record.val_curve)
    return configs, complete, epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--spec", type=Path, default=Path("studies/sub5k.toml"))
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=None, help="a JSON file for the counts")
    args = parser.parse_args()
    quiet_libraries()
    base = load_spec(args.spec)
    spec = base.model_copy(
        update={"run": base.run.model_copy(update={"confirm": base.run.confirm.model_copy(update={"top": 0})})}
    )
    budget_s = args.minutes * 60
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, flags) in enumerate(ARMS.items()):
            print(f"{name}: searching for {args.minutes:g} min ...", flush=True)
            started = datetime.now()  # Optuna stamps trials with naive local time
            t0 = time.perf_counter()
            study = tinynas.search(
                spec, storage=f"sqlite:///{tmp}/{i}.db", data_dir=args.data_dir, timeout=f"{budget_s:.0f}s", **flags
            )
            rows[name] = dict(zip(("configs", "complete", "epochs"), count(study, started, budget_s), strict=True))
            rows[name]["wall_s"] = time.perf_counter() - t0
            print(f"{name}: {rows[name]}", flush=True)
    print(f"\n{args.spec}, {args.minutes:g} min per arm; {cpu_name()}")
    print(f"{'arm':<68} {'configurations':>14} {'complete':>8} {'epochs':>6}")
    for name, row in rows.items():
        print(f"{name:<68} {row['configs']:>14} {row['complete']:>8} {row['epochs']:>6}")
    before, after = rows.values()
    print(f"epochs trained, defaults / earlier settings: {after['epochs'] / max(before['epochs'], 1):.2f}x")
    print(f"configurations trained, defaults / earlier settings: {after['configs'] / max(before['configs'], 1):.2f}x")
    if args.out:
        args.out.write_text(
            json.dumps({"spec": str(args.spec), "minutes": args.minutes, "machine": cpu_name(), "arms": rows}, indent=1)
        )


if __name__ == "__main__":
    main()
