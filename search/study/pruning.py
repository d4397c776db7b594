"""Pruners: Optuna's for single-objective studies, and our rule for Pareto studies."""

from __future__ import annotations

import statistics

import optuna

from search.study.record import complete_records
from search.study.spec import PrunerSpec

MIN_PEERS = 3


def make_pruner(spec: PrunerSpec, max_epochs: int) -> optuna.pruners.BasePruner:
    """Epochs are the resource: every trial trains `spec.first_epoch` epochs before it can be stopped."""
    first = spec.first_epoch(max_epochs)
    if spec.kind == "hyperband":
        return optuna.pruners.HyperbandPruner(first, max_epochs, spec.reduction_factor)
    if spec.kind == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(first, spec.reduction_factor)
    if spec.kind == "median":
        return optuna.pruners.MedianPruner(spec.startup_trials, n_warmup_steps=first - 1)
    return optuna.pruners.NopPruner()


def dominated(study: optuna.Study, epoch: int, params: int, acc: float) -> bool:
    """Multi-objective rule: stop a trial whose validation accuracy at this epoch is below
    the median, at the same epoch, of the finished trials that have no more parameters
    than it (at least 3 of them). Such a trial is on course to be dominated: those
    peers are no bigger and were more accurate at the same point of training."""
    peers = [
        r.val_curve[epoch - 1]
        for r in complete_records(study)
        if r.params is not None and r.params <= params and len(r.val_curve) >= epoch
    ]
    return len(peers) >= MIN_PEERS and acc < statistics.median(peers)
