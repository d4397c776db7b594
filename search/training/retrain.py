"""Retrain: train a config on all training images and judge it on the test set, per seed.

Computation only: it returns the runs and tells callbacks what happened; writing files,
recording results and drawing tables belong to the outputs and the CLI.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from models import ModelConfig, analyse
from search.data import Split, dataset_info, retrain_splits
from search.errors import TinynasError
from search.training.checkpoint import resumable
from search.training.device import ONE_PROCESS, Resources
from search.training.experiment import Experiment
from search.training.loop import History, Reporter, train_replicas
from search.training.parallel import in_workers
from search.training.recipe import TrainConfig
from search.training.teachers import teacher_of

LAST_K = 3
"""The stability rule reported beside the final epoch: the minimum over the last 3 epochs."""


@dataclass(frozen=True)
class RetrainOptions:
    seed_count: int
    data_root: Path
    first_seed: int | None = None
    """The first seed's number (the rest count up from it); None: the recipe's seed."""
    epochs: int | None = None
    subset: int | None = None
    fused: bool = False
    """Train the seeds as one fused network (how results were retrained before runs were spread
    over cores; pass it to replay them exactly); False: one run per seed."""
    resources: Resources = ONE_PROCESS
    """The device, and the worker processes the seeds' runs are spread over (not fused; 1: one
    after another, here) with their threads."""


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
    fused: bool = False
    """Whether the seeds trained as one fused network (it changes the arithmetic: replay with it)."""
    teacher: dict | None = None
    """The distillation teacher's identity (trained on all training images; its accuracy on the
    test images), when the recipe distils."""

    @property
    def finals(self) -> list[float]:
        return [r.final for r in self.runs]

    @property
    def mean_std(self) -> tuple[float, float]:
        finals = self.finals
        return statistics.fmean(finals), (statistics.stdev(finals) if len(finals) > 1 else 0.0)


def seed_config(exp: Experiment, index: int, epochs: int | None, first_seed: int | None = None) -> TrainConfig:
    """Seed i of a retrain is the first seed (by default the recipe's) + i; validation re-runs
    on the overrides."""
    data = exp.train.model_dump() | {"seed": (exp.train.seed if first_seed is None else first_seed) + index}
    if epochs is not None:
        data["epochs"] = epochs
    return TrainConfig.model_validate(data)


@functools.cache
def _splits(dataset: str, resize: tuple[int, int] | None, data_root: Path, subset: int | None) -> tuple[Split, Split]:
    return retrain_splits(dataset_info(dataset, resize), data_root, subset)


@dataclass(frozen=True)
class _SeedJob:
    """One seed's run, as a worker process receives it."""

    dataset: str
    resize: tuple[int, int] | None
    model: str  # JSON: a ModelConfig
    recipe: str  # JSON: a TrainConfig
    data_root: Path
    subset: int | None
    device: str


def _seed_job(job: _SeedJob) -> tuple[History, nn.Module, nn.Module]:
    """One seed's run in a worker process: its history, evaluated and raw weights."""
    cfg = TrainConfig.model_validate_json(job.recipe)
    splits = _splits(job.dataset, job.resize, job.data_root, job.subset)
    teacher = teacher_of(cfg, *splits, job.device)  # from the cache the parent filled
    model = ModelConfig.model_validate_json(job.model)
    with resumable() as states:  # a retrain cut short resumes where it was
        trained = train_replicas(model, [cfg], *splits, device=job.device, teacher=teacher, states=states)
    return trained.histories[0], trained.models[0], trained.raw[0]


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
    info = dataset_info(exp.dataset, exp.resize)
    searched_on = exp.provenance.data_digest
    if searched_on is not None and searched_on != info.digest:
        raise TinynasError(
            f"{exp.dataset} holds other data than this configuration was searched on (content {searched_on}, "
            f"now {info.digest}): point the experiment's dataset at the data of its search"
        )
    train_split, test_split = retrain_splits(info, opts.data_root, opts.subset)
    stats = analyse(exp.model)
    cfgs = [seed_config(exp, i, opts.epochs, opts.first_seed) for i in range(opts.seed_count)]
    groups = [cfgs] if opts.fused else [[c] for c in cfgs]
    device = opts.resources.device
    teacher = teacher_of(exp.train, train_split, test_split, device)  # trained here once, then cached
    about_teacher = teacher.identity() if teacher else None
    runs = []
    if not opts.fused and opts.resources.workers > 1 and len(cfgs) > 1:  # one run per seed, on every core
        for group in groups:
            if on_seed_start:
                on_seed_start(group, len(train_split), len(test_split))
        model_json = exp.model.model_dump_json()
        jobs = [
            _SeedJob(exp.dataset, exp.resize, model_json, c.model_dump_json(), opts.data_root, opts.subset, device)
            for c in cfgs
        ]
        results = in_workers(_seed_job, jobs, opts.resources)
        for cfg, (history, model, raw) in zip(cfgs, results, strict=True):
            run = SeedRun(cfg, history, model, raw)
            if on_seed_end:
                on_seed_end(run)
            runs.append(run)
        return RetrainResult(exp, stats.params, stats.macs, tuple(runs), fused=False, teacher=about_teacher)
    for group in groups:
        if on_seed_start:
            on_seed_start(group, len(train_split), len(test_split))
        with resumable() as states:
            trained = train_replicas(
                exp.model,
                group,
                train_split,
                test_split,
                device=device,
                reporter=reporter,
                teacher=teacher,
                states=states,
            )
        for cfg, model, history, raw in zip(group, trained.models, trained.histories, trained.raw, strict=True):
            run = SeedRun(cfg, history, model, raw)
            if on_seed_end:
                on_seed_end(run)
            runs.append(run)
    fused = opts.fused and len(cfgs) > 1
    return RetrainResult(exp, stats.params, stats.macs, tuple(runs), fused=fused, teacher=about_teacher)
