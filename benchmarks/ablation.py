"""What the ablation benchmarks (`levers.py`, `recipes.py`) record per variant: its seeds'
final-epoch accuracy on the split it is judged on, their mean and spread, the curves, the time."""

from __future__ import annotations

import statistics
import time

from models import ModelConfig
from search.data import Split
from search.training import TrainConfig, train_replicas
from search.training.distill import Teacher

SEEDS = (0, 1, 2)
"""Every variant trains these seeds, fused: one row is a mean of 3 (the spread of tiny nets
between seeds is about 0.1 points, as large as most of the differences measured)."""


def seeds_row(model: ModelConfig, cfg: TrainConfig, train: Split, val: Split, teacher: Teacher | None = None) -> dict:
    """Trains `cfg` once per seed of SEEDS (fused) and returns the variant's row."""
    start = time.perf_counter()
    trained = train_replicas(model, [cfg.model_copy(update={"seed": s}) for s in SEEDS], train, val, teacher=teacher)
    finals = [h.final_acc for h in trained.histories]
    return {
        "recipe": cfg.model_dump(mode="json"),
        "val_final": finals,
        "mean": statistics.fmean(finals),
        "std": statistics.stdev(finals),
        "val_curves": [h.eval_acc for h in trained.histories],
        "seconds": time.perf_counter() - start,
    }
