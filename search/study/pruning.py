"""Pruners: Optuna's for single-objective studies, and our rule for Pareto studies."""

from __future__ import annotations

import statistics

import optuna

from models import analyse
from search.study.record import TrialRecord, complete_records
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


def dominated(study: optuna.Study, epoch: int, cost: int, acc: float, figure: str = "params") -> bool:
    """Multi-objective rule: stop a trial whose validation accuracy at this epoch is below
    the median, at the same epoch, of the finished trials that cost no more than it (`figure`
    of `models.Analysis`: parameters, MACs, ...; at least 3 of them). Such a trial is on course
    to be dominated: those peers are no costlier and were more accurate at the same point."""
    peers = [
        r.val_curve[epoch - 1]
        for r in complete_records(study)
        if len(r.val_curve) >= epoch and (peer := _cost(r, figure)) is not None and peer <= cost
    ]
    return len(peers) >= MIN_PEERS and acc < statistics.median(peers)


def _cost(record: TrialRecord, figure: str) -> int | None:
    """A trial's cost: as recorded when the trial keeps it (parameters, MACs), else from its
    configuration (the analysis owns every figure); None when it has neither."""
    recorded = {"params": record.params, "macs": record.macs}.get(figure)
    if recorded is not None:
        return recorded
    return None if record.config is None else int(getattr(analyse(record.experiment().model), figure))
