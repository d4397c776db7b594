"""How to spend a machine's cores on a search: trained configurations per hour for each split
of worker processes x PyTorch threads, each memory layout, and 1 or 2 seeds per trial.

The same configurations (drawn from a study's space, within its budget) train for one epoch
each on the same split in every arm; an arm with W workers hands them out to W processes
that each loaded the data and warmed up before the clock starts. The rate is
configurations per hour of wall time; the last line names the fastest arm, which is what
`tinynas search` does by default on a CPU (`search.training.device.resources`).

    python benchmarks/cores.py --data-dir data --spec benchmarks/specs/sub5k-v5.toml
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from models import ModelConfig, count_params
from search.data import data_root, dataset_info, search_splits
from search.study import load_spec, sample_model, sample_train
from search.study.space import RandomSuggest
from search.training import TrainConfig, cpu_name, train_replicas

LAYOUTS = ("channels_last", "contiguous")


@dataclass(frozen=True)
class Arm:
    workers: int
    threads: int
    layout: str
    seeds: int

    @property
    def name(self) -> str:
        return f"{self.workers} x {self.threads} thread(s), {self.layout}, {self.seeds} seed(s) per trial"


def draws(spec_path: Path, n: int, seed: int) -> list[tuple[ModelConfig, TrainConfig]]:
    """n configurations of the space within the budget, trained for 1 epoch each."""
    spec = load_spec(spec_path)
    info, suggest, out = dataset_info(spec.dataset), RandomSuggest(seed), []
    while len(out) < n:
        try:
            model = sample_model(suggest, spec.space.model, info, spec.budget)
        except ValueError:
            continue
        cfg = sample_train(suggest, spec.space.train, seed=spec.seed)
        if count_params(model) <= spec.budget.max_params:
            out.append((model, cfg.model_copy(update={"epochs": 1})))
    return out


_SPLITS: tuple | None = None


def _load(root: Path, threads: int, subset: int) -> None:
    global _SPLITS
    torch.set_num_threads(threads)
    _SPLITS = search_splits(dataset_info("mnist"), root, 5000, 0, subset)


def _train(job: tuple[ModelConfig, TrainConfig, str, int]) -> float:
    model, cfg, layout, seeds = job
    assert _SPLITS is not None
    start = time.perf_counter()
    cfgs = [cfg.model_copy(update={"seed": cfg.seed + r, "layout": layout}) for r in range(seeds)]
    train_replicas(model, cfgs, *_SPLITS)
    return time.perf_counter() - start


def rate(arm: Arm, configs: list, root: Path, subset: int) -> float:
    """Configurations per hour: the whole list trained by the arm's workers, wall time."""
    jobs = [(m, c, arm.layout, arm.seeds) for m, c in configs]
    with mp.get_context("spawn").Pool(arm.workers, initializer=_load, initargs=(root, arm.threads, subset)) as pool:
        pool.map(_train, jobs[: arm.workers], chunksize=1)  # warm-up: one configuration per worker
        start = time.perf_counter()
        pool.map(_train, jobs, chunksize=1)
        return 3600 * len(jobs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--spec", type=Path, default=Path("benchmarks/specs/sub5k-v5.toml"))
    parser.add_argument("--configs", type=int, default=8)
    parser.add_argument("--subset", type=int, default=10_000, help="training images per configuration")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many passes per arm")
    parser.add_argument("--workers", type=int, nargs="+", default=None, help="only these worker counts")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    splits = sorted({(w, cores // w) for w in (1, 2, cores) if w <= cores and w in (args.workers or [w])})
    arms = [Arm(w, t, layout, 1) for w, t in splits for layout in LAYOUTS]
    arms += [Arm(w, t, layout, 2) for w, t in splits if w == cores for layout in LAYOUTS]
    configs = draws(args.spec, args.configs, seed=1)
    print(f"{cpu_name()}, torch {torch.__version__}; {len(configs)} configurations of {args.spec}, 1 epoch of "
          f"{args.subset:,} images each, best of {args.repeats}")  # fmt: skip
    best: dict[Arm, float] = {}
    for _ in range(args.repeats):  # alternate arms, so drift in the machine's speed hits all
        for arm in arms:
            best[arm] = max(best.get(arm, 0.0), rate(arm, configs, args.data_dir, args.subset))
            print(f"  {arm.name}: {best[arm]:,.0f} configurations/hour (best so far)", flush=True)
    base = best[arms[0]]
    print(f"{'arm':<60} {'configs/hour':>12} {'ratio':>6}")
    for arm in arms:
        print(f"{arm.name:<60} {best[arm]:>12,.0f} {best[arm] / base:>5.2f}x")
    single = {a: r for a, r in best.items() if a.seeds == 1}
    top = max(single, key=single.__getitem__)
    print(f"fastest split at 1 seed per trial: {top.name} ({single[top] / base:.2f}x of {arms[0].name})")


if __name__ == "__main__":
    main()
