"""How much a search trains in the same wall time: tinynas's defaults against earlier
settings, on the same spec, one after another on the same machine.

Each arm runs `tinynas.search` on the spec (its confirmation step left out) into a fresh
SQLite file with `--timeout` MINUTES (trials in flight at the timeout run to their end, so
an arm takes a little longer). Counted per arm from the trials' own start and end times,
at exactly MINUTES after the arm started: trained configurations started (over-budget draws
are never trained and not counted), trained configurations finished (complete or pruned),
and the epochs those finished ones trained (a configuration trained with 2 seeds fused
counts each epoch once).

    python benchmarks/search_throughput.py --data-dir data --spec benchmarks/specs/sub5k-v5.toml --minutes 10
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import datetime
from pathlib import Path

import optuna

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


def count(study: optuna.Study, started: datetime, budget_s: float) -> dict[str, int]:
    """Trained configurations started and finished within the budget, and the finished ones' epochs."""
    out = {"started": 0, "finished": 0, "finished_epochs": 0}
    for trial in study.get_trials(deepcopy=False):
        record = TrialRecord.of(trial)
        if record.kind is Kind.INFEASIBLE or trial.datetime_start is None:
            continue
        if (trial.datetime_start - started).total_seconds() <= budget_s:
            out["started"] += 1
        end = trial.datetime_complete
        if record.kind in (Kind.COMPLETE, Kind.PRUNED) and end and (end - started).total_seconds() <= budget_s:
            out["finished"] += 1
            out["finished_epochs"] += len(record.val_curve)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--spec", type=Path, default=Path("benchmarks/specs/sub5k-v5.toml"))
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument(
        "--out", type=Path, default=None, help="a JSON file for the counts (arms already in it are kept)"
    )
    parser.add_argument("--arms", type=int, nargs="+", default=None, help="run only these arms (0, 1)")
    args = parser.parse_args()
    quiet_libraries()
    base = load_spec(args.spec)
    spec = base.model_copy(
        update={"run": base.run.model_copy(update={"confirm": base.run.confirm.model_copy(update={"top": 0})})}
    )
    budget_s = args.minutes * 60
    kept = json.loads(args.out.read_text()) if args.out and args.out.exists() else {}
    rows: dict[str, dict] = kept.get("arms", {})
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, flags) in enumerate(ARMS.items()):
            if args.arms is not None and i not in args.arms:
                continue
            print(f"{name}: searching for {args.minutes:g} min ...", flush=True)
            started = datetime.now()  # Optuna stamps trials with naive local time
            study = tinynas.search(
                spec, storage=f"sqlite:///{tmp}/{i}.db", data_dir=args.data_dir, timeout=f"{budget_s:.0f}s", **flags
            )
            rows[name] = count(study, started, budget_s)
            print(f"{name}: {rows[name]}", flush=True)
    print(f"\n{args.spec}, {args.minutes:g} min per arm; {cpu_name()}")
    print(f"{'arm':<68} {'started':>7} {'finished':>8} {'their epochs':>12}")
    for name, row in rows.items():
        print(f"{name:<68} {row['started']:>7} {row['finished']:>8} {row['finished_epochs']:>12}")
    before, after = rows.values()
    for key in ("started", "finished", "finished_epochs"):
        print(f"{key}, defaults / earlier settings: {after[key] / max(before[key], 1):.2f}x")
    if args.out:
        result = {"spec": str(args.spec), "minutes": args.minutes, "machine": cpu_name(), "arms": rows}
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
