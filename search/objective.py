"""One trial: sample, hold the budget, train, report, and record what happened."""

from __future__ import annotations

import time
from dataclasses import dataclass

import optuna

from models import analyse
from search.datasets import DatasetInfo
from search.experiment import Experiment
from search.pruning import dominated
from search.space import TrialSuggest, sample_model, sample_train
from search.spec import StudySpec
from search.splits import Split
from search.trainer import EpochResult, train

SCORE_EPOCHS = 2
"""The optimised accuracy is the mean validation accuracy of the last 2 epochs: a model
that only spikes once scores lower than one that holds its accuracy."""


@dataclass(frozen=True)
class SearchContext:
    spec: StudySpec
    info: DatasetInfo
    train: Split
    val: Split
    device: str = "cpu"


def objective(trial: optuna.Trial, ctx: SearchContext) -> float | tuple[float, float]:
    start = time.perf_counter()
    suggest = TrialSuggest(trial)
    try:
        model = sample_model(suggest, ctx.spec.space.model, ctx.info)
    except ValueError as exc:  # e.g. too many pools and unpadded convs for the image
        trial.set_user_attr("invalid", str(exc))
        trial.set_constraint("shape", 1.0)
        raise optuna.TrialPruned(f"invalid architecture: {exc}") from None
    cfg = sample_train(suggest, ctx.spec.space.train, seed=ctx.spec.seed)
    stats = analyse(model)
    exp = Experiment(dataset=ctx.spec.dataset, model=model, train=cfg)
    for key, value in {"config": exp.model_dump(mode="json"), "params": stats.params, "macs": stats.macs,
                       "receptive_field": stats.rf, "epochs": cfg.epochs}.items():  # fmt: skip
        trial.set_user_attr(key, value)
    over = stats.params - ctx.spec.budget.max_params
    trial.set_constraint("params", float(over))
    if over > 0:  # hard budget: never trained, but the sampler learns where the wall is
        trial.set_user_attr("infeasible", True)
        raise optuna.TrialPruned(f"{stats.params:,} params > budget {ctx.spec.budget.max_params:,}")
    curve: list[float] = []

    def on_epoch(result: EpochResult) -> None:
        curve.append(result.eval_acc)
        trial.set_user_attr("val_curve", curve)
        trial.set_user_attr("epochs_run", result.epoch)
        trial.set_user_attr("seconds", time.perf_counter() - start)
        if result.epoch < cfg.epochs and _should_stop(trial, ctx, result, stats.params, curve):
            raise optuna.TrialPruned(f"stopped after epoch {result.epoch}")

    _, history = train(model, cfg, ctx.train, ctx.val, device=ctx.device, on_epoch=on_epoch)
    score = history.last_mean(SCORE_EPOCHS)
    return (score, float(stats.params)) if ctx.spec.multi_objective else score


def _should_stop(trial: optuna.Trial, ctx: SearchContext, result: EpochResult, params: int, curve) -> bool:
    if ctx.spec.multi_objective:  # Optuna's pruners are single-objective only
        if result.epoch < ctx.spec.pruner.min_epochs or ctx.spec.pruner.kind == "none":
            return False
        return dominated(trial.study, result.epoch, params, curve[-1])
    trial.report(result.eval_acc, result.epoch)
    return trial.should_prune()
