"""Pruners: Optuna's for single-objective studies, our rule for Pareto studies, and
promotion over cheaper runs (asynchronous successive halving) for both."""

from __future__ import annotations

import statistics

import optuna

from models import analyse
from search.study.record import TrialRecord, complete_records, rung_peers
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
    return optuna.pruners.NopPruner()  # none; promotion decides in the objective (`promoted`)


def promoted(
    study: optuna.Study,
    number: int,
    rung: int,
    score: float,
    eta: int,
    cost: tuple[str, int] | None,
    peer_floor: float = 0.0,
) -> bool:
    """Asynchronous successive halving (ASHA's rule, as Optuna's SuccessiveHalvingPruner):
    trial `number`, having scored `score` on `rung`, climbs on when it is among the best
    max(1, n // eta) of the n scores reached there so far, its own included. Nobody waits for
    a rung to fill: the first trials climb, the later ones meet a stiffer field. With a cost
    (a Pareto study: the figure and the trial's amount), only peers that cost no more count,
    so a small model is not stopped for losing to bigger ones, and no less than `peer_floor`
    of its amount, so a model is not let through for beating much smaller ones."""
    peers = rung_peers(study, rung, exclude=number)
    if cost is not None:
        figure, amount = cost
        peers = [r for r in peers if costs_between(r, figure, peer_floor * amount, amount)]
    return climbs(score, [r.rungs[rung].score for r in peers], eta)


def climbs(score: float, peer_scores: list[float], eta: int) -> bool:
    """Whether `score` is among the best max(1, n // eta) of the n scores, its peers' and its own."""
    ahead = sum(s > score for s in peer_scores)
    return ahead < max(1, (len(peer_scores) + 1) // eta)


def dominated(study: optuna.Study, epoch: int, cost: int, acc: float, figure: str = "params") -> bool:
    """Multi-objective rule: stop a trial whose validation accuracy at this epoch is below
    the median, at the same epoch, of the finished trials that cost no more than it (`figure`
    of `models.Analysis`: parameters, MACs, ...; at least 3 of them). Such a trial is on course
    to be dominated: those peers are no costlier and were more accurate at the same point."""
    peers = [
        r.val_curve[epoch - 1]
        for r in complete_records(study)
        if len(r.val_curve) >= epoch and _costs_no_more(r, figure, cost)
    ]
    return len(peers) >= MIN_PEERS and acc < statistics.median(peers)


def _costs_no_more(record: TrialRecord, figure: str, amount: int) -> bool:
    """Whether a peer is known to cost no more than `amount` (a Pareto rule's peers)."""
    return costs_between(record, figure, 0, amount)


def costs_between(record: TrialRecord, figure: str, low: float, high: float) -> bool:
    """Whether a peer is known to cost from `low` to `high`."""
    cost = _cost(record, figure)
    return cost is not None and low <= cost <= high


def _cost(record: TrialRecord, figure: str) -> int | None:
    """A trial's cost: as recorded when the trial keeps it (parameters, MACs), else from its
    configuration (the analysis owns every figure); None when it has neither."""
    recorded = {"params": record.params, "macs": record.macs}.get(figure)
    if recorded is not None:
        return recorded
    return None if record.config is None else int(getattr(analyse(record.experiment().model), figure))
