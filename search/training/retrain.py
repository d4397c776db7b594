"""Retrain: train a config on all training images and judge it on the test set, per seed.

Computation only: it returns the runs and tells callbacks what happened; writing files,
recording results and drawing tables belong to the outputs and the CLI.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from models import analyse
from search.data import dataset_info, retrain_splits
from search.training.experiment import Experiment
from search.training.loop import History, Reporter, train_replicas
from search.training.recipe import TrainConfig

LAST_K = 3
"""The stability rule reported beside the final epoch: the minimum over the last 3 epochs."""


@dataclass(frozen=True)
class RetrainOptions:
    seeds: int
    data_root: Path
    epochs: int | None = None
    device: str = "cpu"
    subset: int | None = None
    fused: bool = True
    """Train the seeds as one fused network (default); False: one after another."""


@dataclass(frozen=True)
class SeedRun:
    config: TrainConfig
    history: History
    model: nn.Module
    """The evaluated weights (the EMA average when the recipe has ema > 0)."""
    raw: nn.Module
    """The optimiser's weights (the same module as `model` without EMA)."""

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def final(self) -> float:
        return self.history.final_acc

    @property
    def last3_min(self) -> float:
        return self.history.last_min(LAST_K)


@dataclass(frozen=True)
class RetrainResult:
    experiment: Experiment
    params: int
    macs: int
    runs: tuple[SeedRun, ...]

    @property
    def finals(self) -> list[float]:
        return [r.final for r in self.runs]

    @property
    def mean_std(self) -> tuple[float, float]:
        finals = self.finals
        return statistics.fmean(finals), (statistics.stdev(finals) if len(finals) > 1 else 0.0)


def seed_config(exp: Experiment, index: int, epochs: int | None) -> TrainConfig:
    """Seed i of a retrain is the recipe's seed + i; validation re-runs on the override."""
    data = exp.train.model_dump() | {"seed": exp.train.seed + index}
    if epochs is not None:
        data["epochs"] = epochs
    return TrainConfig.model_validate(data)


SeedStart = Callable[[list[TrainConfig], int, int], None]
"""Told (the recipes about to train together, training images, test images) before they train:
all seeds at once when fused, one at a time when sequential."""


def retrain(
    exp: Experiment,
    opts: RetrainOptions,
    *,
    reporter: Reporter | None = None,
    on_seed_start: SeedStart | None = None,
    on_seed_end: Callable[[SeedRun], None] | None = None,
) -> RetrainResult:
    info = dataset_info(exp.dataset)
    train_split, test_split = retrain_splits(info, opts.data_root, opts.subset)
    stats = analyse(exp.model)
    cfgs = [seed_config(exp, i, opts.epochs) for i in range(opts.seeds)]
    groups = [cfgs] if opts.fused else [[c] for c in cfgs]
    runs = []
    for group in groups:
        if on_seed_start:
            on_seed_start(group, len(train_split), len(test_split))
        trained = train_replicas(exp.model, group, train_split, test_split, device=opts.device, reporter=reporter)
        for cfg, model, history, raw in zip(group, trained.models, trained.histories, trained.raw, strict=True):
            run = SeedRun(cfg, history, model, raw)
            if on_seed_end:
                on_seed_end(run)
            runs.append(run)
    return RetrainResult(exp, stats.params, stats.macs, tuple(runs))
