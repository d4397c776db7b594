"""Which cheap signal predicts a configuration's confirmed score, and at what cost.

For configurations drawn at random from the search race's space (within its budget), on the
race's problem (`search_race.REDUCED`: 10,000 training images, a 5,000-image validation split
carved from the training images, 5 epochs): the truth is the confirmed full score, the mean
over 3 fresh seeds of each seed's score as the search scores it (mean validation accuracy of
the last 2 epochs). Each cheap signal is then ranked against it:

- epoch 1, 2, 3: validation accuracy after that epoch of the full, annealed run (one seed):
  what Hyperband's rungs see;
- full, 1 seed: the whole run's score with one seed (what a 1-seed trial is scored by);
- full, 2 seeds: the mean of two seeds' scores (what a 2-seed trial is scored by);
- short schedule: a complete run of 2 of the 5 epochs, annealed to zero;
- data subset: a third of the training images with the full 5-epoch schedule.

Per signal: Spearman's rank correlation with the truth (and a bootstrap 90% interval over
configurations), top-5 recall (how many of the truth's 5 best the signal's 5 best hold), and
its cost as a fraction of one full single-seed run (measured). Results are cached in --out
as each configuration finishes; a rerun resumes.

    python benchmarks/fidelity.py --data-dir data --configs 24 --workers 2 \\
        --out studies/results/fidelity.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import time
from pathlib import Path

import pandas as pd
import torch
from search_race import REDUCED, spec_for

from models import ModelConfig, count_params
from search.data import data_root, dataset_info, search_splits
from search.limits import CONFIRM_SEED_OFFSET
from search.study import StudySpec, sample_model, sample_train, seed_score
from search.study.space import RandomSuggest
from search.training import TrainConfig, cpu_name, fastest_layout, train_replicas

TRUTH_SEEDS = 3
SHORT_EPOCHS = 2
SUBSET_FRACTION = 3
EPOCHS = REDUCED["budget"]["max_epochs"]
SIGNALS = ["epoch 1", "epoch 2", "epoch 3", "full, 1 seed", "full, 2 seeds", "short schedule", "data subset"]
TOP = 5


def draws(spec: StudySpec, n: int, seed: int) -> list[dict]:
    info, suggest, out = dataset_info(spec.dataset), RandomSuggest(seed), []
    while len(out) < n:
        try:
            model = sample_model(suggest, spec.space.model, info, spec.budget)
        except ValueError:
            continue
        if count_params(model) <= spec.budget.max_params:
            cfg = sample_train(suggest, spec.space.train, seed=spec.seed)
            out.append({"model": model.to_dict(), "train": cfg.model_dump(mode="json")})
    return out


_SPLITS: dict = {}


def _load(root: Path, threads: int) -> None:
    torch.set_num_threads(threads)
    spec = spec_for(0)
    info = dataset_info(spec.dataset)
    train, val = search_splits(info, root, spec.run.val_size, spec.seed, spec.run.subset)
    n = len(train) // SUBSET_FRACTION
    _SPLITS.update(train=train, val=val, subset=type(train)(train.x[:n], train.y[:n]))


def _run(model: ModelConfig, cfg: TrainConfig, train_key: str = "train") -> tuple[list[float], float]:
    start = time.perf_counter()
    cfg = cfg.model_copy(update={"layout": fastest_layout("cpu", 1, 1)})  # as a 1-seed trial on one thread
    history = train_replicas(model, [cfg], _SPLITS[train_key], _SPLITS["val"])
    return history.histories[0].eval_acc, time.perf_counter() - start


def measure(draw: dict) -> dict:
    """Every signal and the truth for one configuration, with what each run cost."""
    model, cfg = ModelConfig.from_dict(draw["model"]), TrainConfig.model_validate(draw["train"])
    runs = {}
    for i in range(2):  # the search's seeds
        runs[f"seed {i}"] = _run(model, cfg.model_copy(update={"seed": cfg.seed + i}))
    for i in range(TRUTH_SEEDS):
        runs[f"truth {i}"] = _run(model, cfg.model_copy(update={"seed": cfg.seed + CONFIRM_SEED_OFFSET + i}))
    runs["short"] = _run(model, cfg.model_copy(update={"epochs": SHORT_EPOCHS}))
    runs["subset"] = _run(model, cfg, "subset")
    return {"config": draw, "params": count_params(model), "runs": {k: {"curve": c, "seconds": s} for k, (c, s) in runs.items()}}  # fmt: skip


def _score(curve: list[float]) -> float:
    from search.training import EpochResult, History

    return seed_score(History([EpochResult(i + 1, 0, 0, 0, acc, 0, 0) for i, acc in enumerate(curve)]))


def signals(row: dict) -> tuple[float, dict[str, tuple[float, float]]]:
    """(truth, {signal: (value, cost in full single-seed runs)})."""
    runs = row["runs"]
    full = runs["seed 0"]["seconds"]
    truth = sum(_score(runs[f"truth {i}"]["curve"]) for i in range(TRUTH_SEEDS)) / TRUTH_SEEDS
    curve = runs["seed 0"]["curve"]
    out = {f"epoch {e}": (curve[e - 1], e / EPOCHS) for e in (1, 2, 3)}
    out["full, 1 seed"] = (_score(curve), 1.0)
    two = (_score(curve) + _score(runs["seed 1"]["curve"])) / 2
    out["full, 2 seeds"] = (two, (full + runs["seed 1"]["seconds"]) / full)
    out["short schedule"] = (_score(runs["short"]["curve"]), runs["short"]["seconds"] / full)
    out["data subset"] = (_score(runs["subset"]["curve"]), runs["subset"]["seconds"] / full)
    return truth, out


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks (ties share their mean rank)."""
    return float(pd.Series(a).rank().corr(pd.Series(b).rank()))


def table(rows: list[dict], boot: int = 1000) -> list[tuple[str, float, float, float, float, float]]:
    """Per signal: (name, Spearman, its 5th and 95th bootstrap percentiles, top-5 recall, cost)."""
    truths, sigs = zip(*(signals(r) for r in rows), strict=True)
    best = set(sorted(range(len(rows)), key=lambda i: -truths[i])[:TOP])
    rng = random.Random(0)
    out = []
    for name in SIGNALS:
        values = [s[name][0] for s in sigs]
        rho = spearman(values, truths)
        samples = []
        for _ in range(boot):
            idx = [rng.randrange(len(rows)) for _ in rows]
            samples.append(spearman([values[i] for i in idx], [truths[i] for i in idx]))
        samples = sorted(x for x in samples if x == x)  # a resample of ties only has no correlation
        lo, hi = samples[len(samples) // 20], samples[-len(samples) // 20 - 1]
        recall = len(best & set(sorted(range(len(rows)), key=lambda i: -values[i])[:TOP])) / TOP
        cost = sum(s[name][1] for s in sigs) / len(sigs)
        out.append((name, rho, lo, hi, recall, cost))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--configs", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2, help="processes, one thread each")
    parser.add_argument("--out", type=Path, default=Path("fidelity.json"))
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {"rows": []}
    results["machine"] = results.get("machine") or f"{cpu_name()}, {args.workers} worker(s) x 1 thread"
    todo = draws(spec_for(0), args.configs, seed=2)[len(results["rows"]) :]
    with mp.get_context("spawn").Pool(args.workers, initializer=_load, initargs=(args.data_dir, 1)) as pool:
        for row in pool.imap(measure, todo):
            results["rows"].append(row)
            args.out.write_text(json.dumps(results, indent=1))
            print(f"{len(results['rows'])}/{args.configs}: {row['params']:,} params", flush=True)
    rows = results["rows"][: args.configs]
    print(f"\n{len(rows)} configurations of the race space; truth: mean score of {TRUTH_SEEDS} fresh seeds; "
          f"{results['machine']}")  # fmt: skip
    print(f"{'signal':<16} {'Spearman':>8} {'90% interval':>14} {'top-5 recall':>12} {'cost':>6}")
    for name, rho, lo, hi, recall, cost in table(rows):
        print(f"{name:<16} {rho:>8.2f} {f'{lo:.2f} to {hi:.2f}':>14} {recall:>12.0%} {cost:>5.2f}x")


if __name__ == "__main__":
    main()
