"""Confirmation: the top trials retrained with fresh seeds on the validation split.

The best of many noisy trials is biased upward (the winner's curse); retraining the few
candidates a rule would pick, with seeds the search never used, measures the
configurations rather than their luckiest seed. The results are recorded on the study.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import optuna

from search.data import Split, dataset_info, search_splits
from search.errors import TinynasError
from search.limits import CONFIRM_SEED_OFFSET
from search.study.interrupt import DeadlineReached, expires, storage_write
from search.study.objective import seed_score
from search.study.options import SearchOptions, time_left
from search.study.record import Confirmation, StudyRecord, TrialRecord, complete_records, record_confirmation
from search.study.spec import StudySpec
from search.training import ONE_PROCESS, EpochResult, Experiment, Resources, train_replicas
from search.training.checkpoint import resumable
from search.training.loop import mean_result
from search.training.parallel import in_workers, tell
from search.training.teachers import teacher_of


def confirm_seeds(record: TrialRecord, k: int) -> list[int]:
    base = record.experiment().train.seed + CONFIRM_SEED_OFFSET
    return [base + i for i in range(k)]


@dataclass(frozen=True)
class ConfirmEpoch:
    """News from a confirmation in progress: trial `trial` has trained `epoch` of `epochs`."""

    trial: int
    epoch: int
    epochs: int
    val_acc: float
    """Validation accuracy (%) after this epoch, the mean over the seeds."""
    seconds: float
    """Wall time of the epoch (all seeds, fused)."""


@dataclass(frozen=True)
class ConfirmFeed:
    """What a display hears of a confirmation, as it happens (each part optional)."""

    starting: Callable[[list[TrialRecord], int, int, tuple[int, int] | None], None] | None = None
    """(the trials about to be retrained, seeds each, worker processes, and for a search's
    confirmation (its top N, of M complete trials)), before any training."""
    epoch: Callable[[ConfirmEpoch], None] | None = None
    """Each epoch trained, from whichever process trains it."""
    confirmed: Callable[[TrialRecord, Confirmation], None] | None = None
    """Each trial confirmed (or found confirmed already), with its result."""


UNHEARD = ConfirmFeed()
"""A confirmation nobody watches."""


def confirm_experiment(
    exp: Experiment,
    seeds: list[int],
    train: Split,
    val: Split,
    resources: Resources = ONE_PROCESS,
    on_epoch: Callable[[int, list[EpochResult]], None] | None = None,
) -> Confirmation:
    """One configuration trained with the given seeds (fused, in the layout fastest for that in
    this process), scored per seed as the search scores; `on_epoch(epochs, per-seed results)`
    after each epoch."""
    layout, device = resources.layout(len(seeds)), resources.device
    cfgs = [exp.train.model_copy(update={"seed": s, "layout": layout}) for s in seeds]
    teacher = teacher_of(exp.train, train, val, device)  # the search's own teacher, from the cache
    each = functools.partial(on_epoch, exp.train.epochs) if on_epoch else None
    with resumable() as states:  # a confirmation cut short resumes where it was
        trained = train_replicas(
            exp.model, cfgs, train, val, device=device, teacher=teacher, on_epoch=each, states=states
        )
    histories = trained.histories
    per_seed = [seed_score(h) for h in histories]
    return Confirmation(seeds=seeds, per_seed=per_seed, mean=sum(per_seed) / len(per_seed))


@functools.cache
def _splits(
    dataset: str, resize: tuple[int, int] | None, data_root: Path, val_size: int | float, seed: int, subset: int | None
) -> tuple[Split, Split]:
    """A study's (train, validation) split, loaded once per process."""
    return search_splits(dataset_info(dataset, resize), data_root, val_size, seed, subset)


@dataclass(frozen=True)
class _Job:
    """One trial to confirm, as a worker process receives it."""

    trial: int
    experiment: str  # JSON: an Experiment
    seeds: list[int]
    split: tuple[str, tuple[int, int] | None, Path, int | float, int, int | None]  # `_splits`' arguments
    resources: Resources  # the worker's own: one process, its threads


def _confirm_job(job: _Job) -> Confirmation:
    def news(epochs: int, results: list[EpochResult]) -> None:
        mean = mean_result(results)
        tell(ConfirmEpoch(job.trial, mean.epoch, epochs, mean.eval_acc, mean.seconds * len(results)))

    exp = Experiment.model_validate_json(job.experiment)
    return confirm_experiment(exp, job.seeds, *_splits(*job.split), job.resources, news)


def confirm(
    study: optuna.Study,
    candidates: list[TrialRecord],
    seed_count: int,
    data_root: Path,
    *,
    resources: Resources = ONE_PROCESS,
    feed: ConfirmFeed = UNHEARD,
) -> dict[int, Confirmation]:
    """Retrain each candidate with `seed_count` fresh seeds (fused) on the study's own training and
    validation split, candidates spread over the resources' workers; its score per seed is the
    search's (mean of the last epochs). A trial already confirmed with the same seeds is not
    trained again. Results are recorded on the study (by this process) as they arrive;
    `feed` hears of them and of every epoch trained."""
    about = StudyRecord.of(study)
    if about.spec is None:
        raise TinynasError(f"study {study.study_name} stored no spec (made by an older tinynas?); cannot confirm")
    spec = StudySpec.model_validate(about.spec)
    split = (spec.dataset, spec.resize, data_root, spec.run.val_size, spec.seed, about.subset)
    _splits(*split)  # the data's problems surface here, before any worker starts
    wanted = {r.number: confirm_seeds(r, seed_count) for r in candidates}
    todo = [
        r for r in candidates if (known := about.confirmed.get(r.number)) is None or known.seeds != wanted[r.number]
    ]
    each = replace(resources, workers=1)
    jobs = [_Job(r.number, r.experiment().model_dump_json(), wanted[r.number], split, each) for r in todo]
    fresh = {r.number for r in todo}
    done = {r.number: about.confirmed[r.number] for r in candidates if r.number not in fresh}
    for record in candidates:
        if feed.confirmed and record.number in done:
            feed.confirmed(record, done[record.number])
    if todo and feed.starting:
        feed.starting(todo, seed_count, max(1, min(resources.workers, len(todo))), None)
    for record, confirmation in zip(todo, in_workers(_confirm_job, jobs, resources, feed.epoch), strict=True):
        with storage_write():  # as each arrives: an interrupt or the deadline loses none, tears none
            record_confirmation(study, record.number, confirmation)
        done[record.number] = confirmation
        if feed.confirmed:
            feed.confirmed(record, confirmation)
    return {r.number: done[r.number] for r in candidates}


@dataclass(frozen=True)
class ConfirmRun:
    """What a search's confirmation did: `done` per trial number, of the `top` it meant to
    confirm among `complete` trials; `cut`: the --timeout ran out before it finished (or began)."""

    done: dict[int, Confirmation]
    top: int
    complete: int
    cut: bool = False


def confirm_plan(study: optuna.Study, spec: StudySpec, opts: SearchOptions) -> tuple[list[TrialRecord], int]:
    """The trials confirmation would retrain (the spec's top N by searched score; none when the
    run skips it) and how many complete trials the study holds."""
    complete = complete_records(study)
    top = spec.run.confirm.top if opts.confirm else 0
    return sorted(complete, key=lambda r: -r.score)[:top], len(complete)


def confirm_best(study: optuna.Study, spec: StudySpec, opts: SearchOptions, feed: ConfirmFeed = UNHEARD) -> ConfirmRun:
    """The spec's `[run] confirm`: its top trials by searched score retrained with fresh seeds,
    spread over the run's workers (those already confirmed with the same seeds are kept), in
    the time the --timeout leaves: past it, what was confirmed is kept and the rest is cut."""
    ranked, complete = confirm_plan(study, spec, opts)
    if not ranked:
        return ConfirmRun({}, 0, complete)
    if time_left(opts) == 0:
        return ConfirmRun({}, len(ranked), complete, cut=True)
    done: dict[int, Confirmation] = {}

    def keep(record: TrialRecord, confirmation: Confirmation) -> None:
        done[record.number] = confirmation
        if feed.confirmed is not None:
            feed.confirmed(record, confirmation)

    def starting(todo: list[TrialRecord], seeds: int, workers: int, _: object) -> None:
        if feed.starting is not None:
            feed.starting(todo, seeds, workers, (len(ranked), complete))

    try:
        with expires(opts.deadline):
            confirm(study, ranked, spec.run.confirm.seeds, opts.data_root, resources=opts.resources,
                    feed=replace(feed, confirmed=keep, starting=starting))  # fmt: skip
    except DeadlineReached:
        return ConfirmRun(done, len(ranked), complete, cut=True)
    return ConfirmRun(done, len(ranked), complete)
