"""`tinynas search`: everything checked first, then Optuna runs trials into the storage."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from dataclasses import dataclass, replace
from pathlib import Path

import optuna
from optuna.trial import TrialState
from rich.console import Console
from rich.live import Live

from search.datasets import dataset_info
from search.errors import TinynasError
from search.feed import Feed, trial_kind
from search.interrupt import TrialGuard, graceful_interrupts
from search.objective import SearchContext, objective
from search.pruning import make_pruner
from search.runtime import quiet_libraries, set_threads
from search.space import smallest_model
from search.spec import StudySpec
from search.splits import search_splits
from search.storage import open_storage

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True)
class SearchOptions:
    storage: str
    trials: int
    data_root: Path
    timeout_s: float | None = None
    subset: int | None = None
    device: str = "cpu"
    jobs: int = 1
    threads: int | None = None
    footer: bool = True
    worker: int = 0
    """Offsets the sampler's seed, so workers starting together do not sample alike."""


def check_space(spec: StudySpec) -> None:
    """Refuse a study whose smallest model is already over budget, before any training."""
    smallest, model = smallest_model(spec.space.model, dataset_info(spec.dataset))
    if model is None:
        raise TinynasError("the space holds no valid model: every architecture shrinks the map below 1x1; "
                           "use fewer stages or tail_convs")  # fmt: skip
    if smallest > spec.budget.max_params:
        raise TinynasError(
            f"the smallest model of this space has {smallest:,} parameters, over budget.max_params "
            f"{spec.budget.max_params:,}: lower the channel / stage / conv ranges or raise the budget"
        )


def _sampler(spec: StudySpec, n_existing: int, worker: int) -> optuna.samplers.BaseSampler:
    """Seeded by spec seed + trials so far (+ the worker), so a resumed study does not
    replay its start and parallel workers do not draw the same configurations."""
    seed = (spec.seed + n_existing + 7919 * worker) % 2**32
    s = spec.sampler
    if s.kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if s.kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(
        n_startup_trials=s.startup_trials, multivariate=s.multivariate, group=s.multivariate,
        seed=seed, constant_liar=True,
    )  # fmt: skip


def open_study(spec: StudySpec, opts: SearchOptions) -> optuna.Study:
    storage = open_storage(opts.storage, create=True, heartbeat_s=spec.run.heartbeat_seconds)
    directions = ["maximize", "minimize"] if spec.multi_objective else ["maximize"]
    existing = [s for s in storage.get_all_studies() if s.study_name == spec.name]
    if existing and [d.name.lower() for d in existing[0].directions] != directions:
        raise TinynasError(f"study {spec.name!r} already exists in {opts.storage} with other objectives; "
                           "give the spec another name or use another --storage")  # fmt: skip
    n_existing = storage.get_n_trials(existing[0]._study_id) if existing else 0
    study = optuna.create_study(
        storage=storage, study_name=spec.name, directions=directions, load_if_exists=True,
        sampler=_sampler(spec, n_existing, opts.worker), pruner=make_pruner(spec.pruner, spec.budget.max_epochs),
    )  # fmt: skip
    for key, value in {"spec": spec.model_dump(mode="json"), "max_params": spec.budget.max_params,
                       "max_epochs": spec.budget.max_epochs, "dataset": spec.dataset,
                       "objective": "mean validation accuracy (%) of the last 2 epochs"}.items():  # fmt: skip
        study.set_user_attr(key, value)
    return study


def finished(study: optuna.Study) -> int:
    """Trials that trained (complete or pruned); over-budget ones cost nothing and don't count."""
    return sum(trial_kind(t) != "INFEASIBLE" for t in study.get_trials(deepcopy=False, states=FINISHED))


@dataclass(frozen=True)
class StopAt:
    """Stops the optimize loop once the study holds `target` trained trials."""

    target: int

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if finished(study) >= self.target:
            study.stop()


def load_context(spec: StudySpec, opts: SearchOptions) -> SearchContext:
    info = dataset_info(spec.dataset)
    subset = opts.subset or spec.run.subset
    train, val = search_splits(info, opts.data_root, spec.run.val_size, spec.seed, subset)
    return SearchContext(spec, info, train, val, opts.device)


def optimize(study: optuna.Study, ctx: SearchContext, opts: SearchOptions, console: Console) -> None:
    """Run trials until the study holds opts.trials finished ones (or the timeout)."""
    remaining = opts.trials - finished(study)
    if remaining <= 0:
        return
    feed = Feed(console, ctx.spec.budget.max_params)
    footer = opts.footer and console.is_terminal
    feed.live = Live(feed.footer(), console=console, auto_refresh=False) if footer else None
    guard = TrialGuard(lambda: console.print("\nstopping: recording the running trial (Ctrl-C again is ignored)"))
    try:
        if feed.live:
            feed.live.start()
        with guard.installed():
            study.optimize(lambda t: guard.run(objective, t, ctx), timeout=opts.timeout_s,
                           callbacks=[feed, StopAt(opts.trials), guard.stop_if_requested])  # fmt: skip
    finally:
        if feed.live:
            feed.live.stop()
    optuna.storages.fail_stale_trials(study)  # a dead worker's trial goes back to the queue


def run_worker(spec: StudySpec, opts: SearchOptions, console: Console) -> None:
    """One process's share of a study (also what `tinynas worker` runs on other machines)."""
    set_threads(opts.threads)
    ctx = load_context(spec, opts)
    optimize(open_study(spec, opts), ctx, opts, console)


def _child(spec_json: str, opts: SearchOptions) -> None:
    quiet_libraries()
    try:
        with graceful_interrupts():
            run_worker(StudySpec.model_validate_json(spec_json), opts, Console())
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def run_search(spec: StudySpec, opts: SearchOptions, console: Console) -> optuna.Study:
    """Checks the space and the data before the storage is touched, then runs workers."""
    check_space(spec)
    set_threads(opts.threads)
    ctx = load_context(spec, opts)
    study = open_study(spec, opts)  # creates the study once, before workers race to
    done = finished(study)
    if done >= opts.trials:
        console.print(f"study {spec.name} already holds {done} finished trials (target {opts.trials}); "
                      "raise --trials to add more", highlight=False)  # fmt: skip
        return study
    console.print(f"study {spec.name}: {done} finished trials so far, running to {opts.trials} "
                  f"with {opts.jobs} worker(s); storage {opts.storage}", highlight=False)  # fmt: skip
    if opts.jobs == 1:
        optimize(study, ctx, opts, console)
        return study
    threads = max(1, (opts.threads or os.cpu_count() or 1) // opts.jobs)
    procs = [
        mp.get_context("spawn").Process(
            target=_child, args=(spec.model_dump_json(), replace(opts, threads=threads, footer=False, worker=i + 1))
        )
        for i in range(opts.jobs)
    ]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:  # stop every worker, wait until each has recorded its trial
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            p.join()
        raise
    if failed := sum(1 for p in procs if p.exitcode):
        raise TinynasError(f"{failed} of {opts.jobs} workers failed; see their output above")
    return study
