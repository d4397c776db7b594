"""Running a study: options resolved once, everything checked first, then Optuna runs trials
into the storage (in this process, or in N worker processes on one study: `training.parallel`).

Display is not done here: the caller passes a `Watcher` factory (the CLI's live feed), so
the same functions serve the CLI, the Python API and worker processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal, Protocol

import optuna
from optuna.trial import FrozenTrial

from search.data import dataset_info, search_splits
from search.errors import TinynasError
from search.signals import stop_exit_code
from search.study.feasibility import check_space
from search.study.interrupt import TrialGuard, graceful_interrupts
from search.study.objective import OBJECTIVE_TEXT, SearchContext, metric_names, objective
from search.study.options import SearchOptions
from search.study.owners import fail_dead_local_trials, lost_to_another_run, retry_trial
from search.study.pruning import make_pruner
from search.study.record import StudyKey, record_study
from search.study.samplers import make_sampler
from search.study.space import complete, possible_teachers
from search.study.spec import StudySpec
from search.study.stopping import InfeasibleStreak, StopAt, finished
from search.study.storage import is_tinynas_study, open_storage
from search.training import set_threads
from search.training.checkpoint import states_folder
from search.training.parallel import in_processes
from search.training.recipe import Distill
from search.training.teachers import teacher_for


class Watcher(Protocol):
    """What a display gives a run: an Optuna callback per finished trial, a context around
    the run (e.g. a live footer), and a word when the first Ctrl-C arrives."""

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: object) -> None: ...
    def stopping(self) -> None: ...


WatcherFactory = Callable[[optuna.Study], Watcher]
"""Builds a watcher in the process that runs the trials; must be picklable (a module-level
function) so that worker processes can build their own."""


class _Silent:
    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def stopping(self) -> None:
        pass


def silent(study: optuna.Study) -> Watcher:
    return _Silent()


def _sampler_seed(spec: StudySpec, n_existing: int, worker: int) -> int:
    """Spec seed + trials so far (+ the worker), so a resumed study does not replay its start
    and parallel workers do not draw the same configurations."""
    return (spec.seed + n_existing + 7919 * worker) % 2**32


def open_study(spec: StudySpec, opts: SearchOptions) -> optuna.Study:
    info, budget = dataset_info(spec.dataset, spec.resize), spec.budget

    def whole(values: dict[str, Any], seed: int, within: float = 1.0) -> tuple[dict[str, Any], str] | None:
        return complete(spec.space, info, budget, values, seed, within)

    storage = open_storage(opts.storage, create=True, heartbeat_s=spec.run.heartbeat_seconds)
    directions: list[Literal["maximize", "minimize"]] = (
        ["maximize", "minimize"] if spec.multi_objective else ["maximize"]
    )
    existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    found = existing.get(spec.name)
    if found and found.n_trials and not is_tinynas_study(found.user_attrs):
        raise TinynasError(
            f"study {spec.name!r} in this storage holds trials tinynas did not make; "
            "give the spec another name or use another --storage"
        )
    recorded = found.user_attrs.get(StudyKey.SPEC) if found else None
    sizing = recorded_sizing(recorded) if found and found.n_trials else spec.space.model.sizing
    if sizing != spec.space.model.sizing:
        raise TinynasError(
            f"study {spec.name!r} in this storage drew its widths with sizing = {sizing!r}, this spec with "
            f"{spec.space.model.sizing!r}: its trials' parameters would not mean the same; set [space.model] "
            f"sizing = {sizing!r} to resume it, or give the spec another name or use another --storage"
        )
    searched_on = found.user_attrs.get(StudyKey.DATA_DIGEST) if found and found.n_trials else None
    if searched_on is not None and searched_on != info.digest:
        raise TinynasError(
            f"study {spec.name!r} in this storage was searched on other data than {spec.dataset} holds now "
            f"(content {searched_on}, now {info.digest}): give the spec another name or use another --storage"
        )
    if found and [d.name.lower() for d in found.directions] != directions:
        raise TinynasError(
            f"study {spec.name!r} already exists in this storage with other objectives; "
            "give the spec another name or use another --storage"
        )
    study = optuna.create_study(
        storage=storage,
        study_name=spec.name,
        directions=directions,
        load_if_exists=True,
        sampler=make_sampler(
            spec.sampler,
            _sampler_seed(spec, found.n_trials if found else 0, opts.worker),
            whole,
            cost_limit=spec.cost_limit,
            aim_by=spec.aimed_by,
            recipe=spec.recipe_params,
        ),
        pruner=make_pruner(spec.pruner, spec.budget.max_epochs),
    )
    study.set_metric_names(metric_names(spec))
    record_study(study, spec, OBJECTIVE_TEXT, opts.subset, info.digest, info.class_names)
    queue_starts(study, spec.start)
    return study


def queue_starts(study: optuna.Study, starts: list[dict[str, Any]]) -> int:
    """Each start queued once (Optuna's enqueue_trial): a start already queued or tried, by
    the same parameter values, is not queued again. One pass over the study, so N starts cost
    N queue writes, not N x N comparisons. Returns how many were queued."""

    def key(values: dict[str, Any]) -> frozenset:  # 1 and 1.0 are one value, as Optuna compares them
        return frozenset(
            (k, float(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in values.items()
        )

    seen = {key(t.system_attrs.get("fixed_params", t.params)) for t in study.get_trials(deepcopy=False)}
    queued = 0
    for values in starts:
        if (k := key(values)) not in seen:
            seen.add(k)
            study.enqueue_trial(values)
            queued += 1
    return queued


def load_context(spec: StudySpec, opts: SearchOptions) -> SearchContext:
    info = dataset_info(spec.dataset, spec.resize)
    train, val = search_splits(info, opts.data_root, spec.run.val_size, spec.seed, opts.subset)
    one = replace(opts.resources, workers=1)  # a context is one process's
    return SearchContext(spec, info, train, val, one, opts.seeds_per_trial)


def optimize(study: optuna.Study, ctx: SearchContext, opts: SearchOptions, watcher: Watcher | None = None) -> None:
    """Run trials until the study holds opts.trials finished ones (or the timeout)."""
    if opts.trials - finished(study) <= 0:
        return
    watcher = watcher or _Silent()
    guard = TrialGuard(watcher.stopping)
    streak = InfeasibleStreak(ctx.spec.run.infeasible_streak)
    callbacks = [watcher, StopAt(opts.trials), streak, guard.stop_if_requested]
    deadline = opts.deadline
    current: list[int] = []  # the number of the trial this run trains
    raised: list[BaseException] = []  # what the objective itself raised, if anything

    def one_trial(trial: optuna.Trial) -> float | tuple[float, float]:
        current[:], raised[:] = [trial.number], []
        try:
            return guard.run(objective, trial, ctx)
        except BaseException as exc:
            raised[:] = [exc]
            raise

    try:
        with watcher, guard.installed(deadline):
            while deadline is None or (left := deadline - time.monotonic()) > 0:
                try:
                    study.optimize(one_trial, timeout=None if deadline is None else left, callbacks=callbacks)
                    break
                except Exception as exc:  # Optuna could not record a trial another run took over: go on
                    if (raised and exc is raised[0]) or not (current and lost_to_another_run(study, current[0])):
                        raise
                    current.clear()
    finally:
        if guard.requested and current:  # the trial a stop cut short: queued again for the next run
            retry_trial(study, current[0], died=False)
        optuna.storages.fail_stale_trials(study)  # another host's dead worker: the heartbeat rule
        fail_dead_local_trials(study)  # this host's: at once
    if streak.tripped:
        raise streak.error()


def recorded_sizing(recorded: Any) -> str:
    """How a study drew its widths, from the spec it recorded: specs written before budget
    sizing name none, and drew channels."""
    model = recorded.get("space", {}).get("model", {}) if isinstance(recorded, dict) else {}
    return str(model.get("sizing", "channels"))


def as_recorded(spec: StudySpec, url: str) -> StudySpec:
    """A study begun before budget sizing existed resumes as it was sampled: when its spec does
    not name `sizing`, the study's recorded spec decides, so an old spec keeps meaning what it
    meant and its trials' parameters keep their names."""
    if "sizing" in spec.space.model.model_fields_set:
        return spec
    try:
        storage = open_storage(url, create=False)
        found = {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    except (TinynasError, optuna.exceptions.StorageInternalError):  # none yet, or not readable:
        return spec  # open_study says what is wrong with the storage
    study = found.get(spec.name)
    if study is None or not study.n_trials:
        return spec
    model = spec.space.model.model_copy(update={"sizing": recorded_sizing(study.user_attrs.get(StudyKey.SPEC))})
    return spec.model_copy(update={"space": spec.space.model_copy(update={"model": model})})


def prepare(spec: StudySpec, opts: SearchOptions) -> tuple[optuna.Study, SearchContext]:
    """Checks the space and the data before the storage is touched, then opens the study."""
    spec = as_recorded(spec, opts.storage)
    check_space(spec)
    states_folder()  # where trials cut short keep their state: a problem with it is said now
    set_threads(opts.resources.threads)
    ctx = load_context(spec, opts)
    study = open_study(spec, opts)
    fail_dead_local_trials(study)  # a killed run's trial is retried first, not left RUNNING
    return study, ctx


def _worker(job: tuple[str, SearchOptions, WatcherFactory]) -> None:
    """One of a search's worker processes: it opens the study itself and takes trials from it."""
    spec_json, opts, make_watcher = job
    try:
        with graceful_interrupts():
            study, ctx = prepare(StudySpec.model_validate_json(spec_json), opts)
            optimize(study, ctx, opts, make_watcher(study))
    except KeyboardInterrupt:
        raise SystemExit(stop_exit_code()) from None


def train_teachers(ctx: SearchContext, opts: SearchOptions) -> None:
    """Every teacher the space can draw, trained on the search's split (or found in the cache),
    on all the threads the run's workers will share."""
    import torch

    before = torch.get_num_threads()
    res = opts.resources
    torch.set_num_threads(res.workers * res.threads if res.threads else before)
    try:
        for name in possible_teachers(ctx.spec.space.train):
            teacher_for(Distill(teacher=name), ctx.train, ctx.val, res.device)
    finally:
        torch.set_num_threads(before)


def run(study: optuna.Study, ctx: SearchContext, opts: SearchOptions, make_watcher: WatcherFactory = silent) -> None:
    """Trials until the study holds opts.trials finished ones: here, or in the resources' worker
    processes that split the CPU threads (each builds its own watcher)."""
    train_teachers(ctx, opts)  # once, here: the trials (and the workers) find them cached
    workers = opts.resources.workers
    if workers == 1:
        optimize(study, ctx, opts, make_watcher(study))
        return
    spec_json = ctx.spec.model_dump_json()
    jobs = [(spec_json, replace(opts, worker=i + 1), make_watcher) for i in range(workers)]
    if failed := in_processes(_worker, jobs):
        raise TinynasError(f"{failed} of {workers} workers failed; see their output above")
