"""Check that a committed retrain still replays: train its first epoch again, as `tinynas
retrain` ran it (its seeds, fused or not, its layout, the given threads), and compare each
seed's test accuracy after epoch 1 with the one its summary.json recorded.

    python studies/replay.py studies/results/retrains/sub5k-v5-e15 --threads 1

Exit code 0 when every seed's first-epoch accuracy is the recorded one, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from search.data import data_root, dataset_info, retrain_splits
from search.training import load_experiment, seed_config, set_threads, train_replicas


class FirstEpochDone(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a retrain's output folder (experiment.json, summary.json)")
    parser.add_argument("--threads", type=int, default=1, help="as the recorded retrain ran")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    set_threads(args.threads)
    exp = load_experiment(args.folder / "experiment.json")
    summary = json.loads((args.folder / "summary.json").read_text())
    cfgs = [seed_config(exp, i, summary["epochs"], summary["seeds"][0]) for i in range(len(summary["seeds"]))]
    fused = summary.get("fused", True)  # retrains recorded before the field existed ran fused
    groups = [cfgs] if fused else [[c] for c in cfgs]
    train, test = retrain_splits(dataset_info(exp.dataset), data_root(args.data_dir), None)
    first: dict[int, float] = {}

    def stop(results) -> None:
        raise FirstEpochDone(results)

    for group in groups:
        try:
            train_replicas(exp.model, group, train, test, on_epoch=stop)
        except FirstEpochDone as done:
            first.update({c.seed: r.eval_acc for c, r in zip(group, done.args[0], strict=True)})
    ok = True
    for seed, acc in first.items():
        recorded = summary["test_acc_per_epoch"][str(seed)][0]
        same = abs(acc - recorded) < 1e-9
        ok &= same
        print(
            f"seed {seed}: epoch 1 test accuracy {acc:.2f}, recorded {recorded:.2f}: {'same' if same else 'DIFFERENT'}"
        )
    print(f"{args.folder}: {'replays' if ok else 'does not replay'} ({'fused' if fused else 'one run per seed'}, "
          f"layout {exp.train.layout}, {args.threads} thread(s))")  # fmt: skip
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
