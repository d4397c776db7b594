"""Training throughput against batch size: is there a cliff below 64?

One model (the sub5k trial-54 configuration by default), one epoch of real MNIST training
images per batch size, same threads, best of `--repeats` alternating runs after a warm-up.

    python benchmarks/batch_size.py --data-dir data --threads 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from search.data import Split, data_root, dataset_info, retrain_splits
from search.training import TrainConfig, load_experiment, train

TRIAL_54 = Path(__file__).resolve().parents[1] / "studies" / "results" / "sub5k-best.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--config", default=str(TRIAL_54))
    parser.add_argument("--images", type=int, default=6400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", default="16,32,64,128")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_experiment(args.config).model
    full, _ = retrain_splits(dataset_info("mnist"), args.data_dir)
    split, eval_split = Split(full.x[: args.images], full.y[: args.images]), Split(full.x[:64], full.y[:64])
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    best = dict.fromkeys(sizes, 0.0)
    train(model, TrainConfig(epochs=1, batch_size=64), split, eval_split)  # warm-up
    for _ in range(args.repeats):
        for b in sizes:
            start = time.perf_counter()
            train(model, TrainConfig(epochs=1, batch_size=b), split, eval_split)
            best[b] = max(best[b], len(split) / (time.perf_counter() - start))
    print(f"{args.config}, {args.threads} threads, {args.images} images, torch {torch.__version__}")
    for b in sizes:
        print(f"batch {b:>4}: {best[b]:8,.0f} images/s  ({best[b] / best[64]:.2f}x of batch 64)")


if __name__ == "__main__":
    main()
