"""How much a search trains in the same wall time: tinynas's defaults against earlier
settings, on the same spec, one after another on the same machine.

Each arm runs `tinynas.search` on the spec (its confirmation step left out: it runs after
the search's time) into a fresh SQLite file. At exactly --minutes after the arm started, its
study is read (from another thread, as any reader of the database would) and counted:
configuration-epochs trained so far (every epoch any trial has finished, in-flight trials
included; a configuration trained with 2 seeds fused counts each epoch once), trials started
on a trained configuration, and trials finished (complete or pruned). Over-budget draws are
never trained and are not counted. The arm is then stopped as Ctrl-C stops a search.

    python benchmarks/search_throughput.py --data-dir data --spec studies/sub5k.toml --minutes 12
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import tempfile
import threading
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


def count(storage: str, name: str) -> dict[str, int]:
    """What the study holds now: configuration-epochs, trained configurations, finished ones."""
    study = optuna.load_study(study_name=name, storage=storage)
    out = {"epochs": 0, "configurations": 0, "finished": 0}
    for trial in study.get_trials(deepcopy=False):
        record = TrialRecord.of(trial)
        if record.kind is Kind.INFEASIBLE or (not record.val_curve and trial.state.name != "RUNNING"):
            continue
        out["epochs"] += len(record.val_curve)
        out["configurations"] += 1
        out["finished"] += record.kind in (Kind.COMPLETE, Kind.PRUNED)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--spec", type=Path, default=Path("studies/sub5k.toml"))
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

    def count_then_stop(storage: str, name: str) -> None:
        rows[name] = count(storage, spec.name)
        # the search's own Ctrl-C, to the main thread (a thread blocked waiting for its workers
        # would not see a SIGINT the kernel handed to this timer thread)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, flags) in enumerate(ARMS.items()):
            if args.arms is not None and i not in args.arms:
                continue
            print(f"{name}: searching for {args.minutes:g} min ...", flush=True)
            storage = f"sqlite:///{tmp}/{i}.db"
            timer = threading.Timer(budget_s, count_then_stop, (storage, name))
            timer.start()
            with contextlib.suppress(KeyboardInterrupt):  # count_then_stop's
                tinynas.search(spec, storage=storage, data_dir=args.data_dir, **flags)
            timer.join()
            print(f"{name}: {rows[name]}", flush=True)
    print(f"\n{args.spec}, {args.minutes:g} min per arm; {cpu_name()}")
    print(f"{'arm':<68} {'configuration-epochs':>20} {'configurations':>14} {'finished':>8}")
    for name, row in rows.items():
        print(f"{name:<68} {row['epochs']:>20} {row['configurations']:>14} {row['finished']:>8}")
    before, after = rows.values()
    print(
        f"configuration-epochs trained, defaults / earlier settings: {after['epochs'] / max(before['epochs'], 1):.2f}x"
    )
    if args.out:
        result = {"spec": str(args.spec), "minutes": args.minutes, "machine": cpu_name(), "arms": rows}
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
