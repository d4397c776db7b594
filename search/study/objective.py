"""One trial: sample, hold the budget, train, report, and record what happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import optuna

from models import Analysis, ModelConfig, analyse
from search.data import DatasetInfo, Split, share_of
from search.limits import SCORE_EPOCHS
from search.study.interrupt import storage_write
from search.study.owners import Owner
from search.study.pruning import dominated, promoted
from search.study.record import (
    RungResult,
    mean_curve,
    record_curves,
    record_drawn,
    record_infeasible,
    record_invalid,
    record_owner,
    record_rung,
    record_sampled,
    record_seeds,
    record_taken_up,
    record_teacher,
)
from search.study.samplers import EvolutionSampler
from search.study.space import TrialSuggest, sample_model, sample_train
from search.study.spec import StudySpec
from search.training import ONE_PROCESS, EpochResult, Experiment, History, Resources, TrainConfig, train_replicas
from search.training.checkpoint import Resumable, resumable
from search.training.teachers import Teacher, teacher_of

OBJECTIVE_TEXT = f"mean validation accuracy (%) of the last {SCORE_EPOCHS} epochs, averaged over the trial's seeds"


def metric_names(spec: StudySpec) -> list[str]:
    """What optuna-dashboard and the report call each objective (`Study.set_metric_names`)."""
    return ["val_acc"] if spec.cost is None else ["val_acc", spec.cost]


def seed_score(history: History) -> float:
    """One seed's score, the search's rule: mean validation accuracy of the last epochs."""
    return history.last_mean(SCORE_EPOCHS)


@dataclass(frozen=True)
class SearchContext:
    spec: StudySpec
    info: DatasetInfo
    train: Split
    val: Split
    resources: Resources = ONE_PROCESS
    """This process's: its device and PyTorch threads."""
    seeds_per_trial: int = 1
    """Replicas per trial (seeds spec.seed, spec.seed + 1, ...), trained fused."""
    owner: Owner = field(default_factory=Owner.current)


def objective(trial: optuna.Trial, ctx: SearchContext) -> float | tuple[float, float]:
    """Sample, hold the budget, climb the promotion rungs (if any), train, report. A stop
    signal interrupts the training, never a write to the storage (`storage_write`)."""
    with storage_write():
        model, cfg, stats = _sample(trial, ctx)
    teacher = teacher_of(cfg, ctx.train, ctx.val, ctx.resources.device)  # cached: trained once per split
    seeds = [cfg.seed + r for r in range(ctx.seeds_per_trial)]
    with storage_write():
        if teacher is not None:
            record_teacher(trial, teacher.identity())
        record_seeds(trial, seeds)
    with resumable() as states:  # a trial cut short leaves its runs' states for its retry
        run = _Run(trial, ctx, model, seeds, teacher, stats, states)
        climbed: list[RungResult] = []
        for rung in ctx.spec.pruner.ladder:
            epochs = min(rung.epochs or cfg.epochs, cfg.epochs)
            images = share_of(ctx.train, rung.images, ctx.spec.seed)  # the same images for every trial
            score, curve = run(cfg.model_copy(update={"epochs": epochs}), images, RunKind.RUNG)
            climbed.append(RungResult(rung.images, epochs, score, tuple(curve)))
            with storage_write():
                record_rung(trial, climbed)
                on = _climbs(trial, ctx, len(climbed) - 1, score, stats)
            if not on:
                raise optuna.TrialPruned(f"stopped at rung {len(climbed)} ({climbed[-1].describe()})")
        score, _ = run(cfg, ctx.train, RunKind.PROMOTED if climbed else RunKind.SCREENED)
    return score if ctx.spec.cost is None else (score, float(getattr(stats, ctx.spec.cost)))


class RunKind(Enum):
    """What a training run of a trial is for, which says what it is evaluated on and whether
    the pruner may stop it."""

    RUNG = "rung"
    """A promotion rung: judged once, at its end, by the search's rule, so evaluated only on
    the epochs that rule reads (on a share of the images, evaluating every epoch would be a
    large part of its cost); the others are NaN in its curve."""
    SCREENED = "screened"
    """The trial's full run with no rungs before it: evaluated every epoch, and the pruner may
    stop it between epochs."""
    PROMOTED = "promoted"
    """The full run of a trial that climbed every rung: evaluated every epoch, never pruned
    (the rungs already judged it)."""


@dataclass(frozen=True)
class _Run:
    """Trains the trial's replicas on some images, recording their curves each epoch; a
    screened run may be stopped by the pruner between epochs."""

    trial: optuna.Trial
    ctx: SearchContext
    model: ModelConfig
    seeds: list[int]
    teacher: Teacher | None
    stats: Analysis
    states: Resumable
    taken_up: list[int] = field(default_factory=list)
    """Per run so far: epochs restored from the state of a run cut short."""

    def __call__(self, cfg: TrainConfig, images: Split, kind: RunKind) -> tuple[float, list[float]]:
        """(the score by the search's rule, the curve: mean over seeds) of a complete run."""
        curves: list[list[float]] = [[] for _ in self.seeds]

        def on_epoch(results: list[EpochResult]) -> None:
            for curve, result in zip(curves, results, strict=True):
                curve.append(result.eval_acc)
            mean = sum(r.eval_acc for r in results) / len(results)
            epoch = results[0].epoch
            with storage_write():
                record_curves(self.trial, curves)
                screened = kind is RunKind.SCREENED and epoch < cfg.epochs
                stop = screened and _should_stop(self.trial, self.ctx, epoch, mean, self.stats)
            if stop:
                raise optuna.TrialPruned(f"stopped after epoch {epoch}")

        replicas = [cfg.model_copy(update={"seed": s}) for s in self.seeds]
        device = self.ctx.resources.device
        trained = train_replicas(
            self.model,
            replicas,
            images,
            self.ctx.val,
            device=device,
            on_epoch=on_epoch,
            teacher=self.teacher,
            judged_from=cfg.epochs - SCORE_EPOCHS + 1 if kind is RunKind.RUNG else 1,
            states=self.states,
        )
        self.taken_up.append(trained.taken_up)
        with storage_write():
            record_taken_up(self.trial, self.taken_up)
        histories = trained.histories
        return sum(map(seed_score, histories)) / len(histories), mean_curve(curves)


def _sample(trial: optuna.Trial, ctx: SearchContext) -> tuple[ModelConfig, TrainConfig, Analysis]:
    """The trial's configuration, recorded; an over-budget or impossible one is recorded
    infeasible and pruned at once, never trained."""
    record_owner(trial, ctx.owner.as_dict())
    suggest = TrialSuggest(trial)
    try:
        model = sample_model(suggest, ctx.spec.space.model, ctx.info, ctx.spec.budget)
    except ValueError as exc:  # e.g. too many pools and unpadded convs for the image
        record_invalid(trial, str(exc))
        trial.set_constraint("shape", 1.0)
        raise optuna.TrialPruned(f"invalid architecture: {exc}") from None
    cfg = sample_train(suggest, ctx.spec.space.train, seed=ctx.spec.seed).model_copy(
        update={"layout": ctx.resources.layout(ctx.seeds_per_trial)}
    )
    sampler = trial.study.sampler
    if isinstance(sampler, EvolutionSampler) and (drawn := sampler.origin(trial.number, trial.params)):
        record_drawn(trial, drawn)
    stats, budget = analyse(model), ctx.spec.budget
    excess = budget.excess(stats)
    over = any(v > 0 for v in excess.values())
    # A draw over the budget may even be over the ceiling, which no valid Experiment is: it is
    # recorded as drawn (unvalidated), never trained.
    make = Experiment.model_construct if over else Experiment
    record_sampled(trial, make(dataset=ctx.spec.dataset, resize=ctx.spec.resize, model=model, train=cfg), stats)
    for figure, amount in excess.items():
        trial.set_constraint(figure, float(amount))
    if over:  # hard budget: never trained, but the sampler learns where the wall is
        record_infeasible(trial, budget.describe_over(stats))
        raise optuna.TrialPruned(f"over budget: {budget.describe_over(stats)}")
    return model, cfg, stats


def _should_stop(trial: optuna.Trial, ctx: SearchContext, epoch: int, acc: float, stats: Analysis) -> bool:
    """Pruning sees the mean over the trial's seeds."""
    if ctx.spec.cost is not None:  # Optuna's pruners are single-objective only
        if epoch < ctx.spec.pruner.first_epoch(ctx.spec.budget.max_epochs) or ctx.spec.pruner.kind == "none":
            return False
        return dominated(trial.study, epoch, getattr(stats, ctx.spec.cost), acc, ctx.spec.cost)
    trial.report(acc, epoch)
    return trial.should_prune()


def _climbs(trial: optuna.Trial, ctx: SearchContext, rung: int, score: float, stats: Analysis) -> bool:
    """Promotion: whether the trial goes on from this rung. Its score is also reported, at step
    rung + 1, so that samplers rank a trial stopped on a higher rung above one stopped lower."""
    cost = None if ctx.spec.cost is None else (ctx.spec.cost, int(getattr(stats, ctx.spec.cost)))
    if cost is None:  # Optuna takes intermediate values from single-objective trials only
        trial.report(score, rung + 1)
    pruner = ctx.spec.pruner
    return promoted(trial.study, trial.number, rung, score, pruner.reduction_factor, cost, pruner.peer_floor)
