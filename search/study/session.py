"""One run of `search` or `worker`, from the user's flags to the study it leaves, telling a
feed what happens on the way (the CLI shows it; the API's caller may listen). The trials'
own progress goes to a `Watcher`, the confirmation's to a `ConfirmFeed`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace

import optuna

from search.study.confirm import UNHEARD, ConfirmFeed, ConfirmRun, confirm_best
from search.study.options import SearchFlags, SearchOptions, resolve_options, time_left
from search.study.owners import other_local_runs
from search.study.runner import WatcherFactory, optimize, prepare, run, silent
from search.study.space import possible_teachers
from search.study.spec import StudySpec
from search.study.stopping import finished
from search.study.storage import redact


@dataclass(frozen=True)
class SearchStart:
    """Where a study stands as a run begins."""

    name: str
    finished: int
    """Finished (complete or pruned) trials the study holds already."""
    target: int
    """The finished trials this run runs the study to (nothing to do when already there)."""
    workers: int
    threads: int | None
    storage: str
    """The storage URL, its password hidden."""
    others: tuple[int, ...]
    """Pids of other live runs training this study on this host (they share its trials and the cores)."""
    teachers: tuple[str, ...]
    """Distillation teachers the space can draw: trained once on the search's training images."""
    train_images: int


@dataclass(frozen=True)
class SearchFeed:
    """What a display hears of a run besides its trials (each part optional)."""

    starting: Callable[[SearchStart], None] | None = None
    timeout_reached: Callable[[int], None] | None = None
    """The --timeout ended the trials; with how many trials cut short (queued for the next run)."""
    confirmation_cut: Callable[[ConfirmRun, int], None] | None = None
    """The --timeout left confirmation no time, or cut it (what ran, and the seeds it asks for)."""
    confirm: ConfirmFeed = UNHEARD


QUIET = SearchFeed()


def search_study(
    spec: StudySpec, flags: SearchFlags, make_watcher: WatcherFactory = silent, feed: SearchFeed = QUIET
) -> optuna.Study:
    """Run (or resume) the study until it holds the trials asked for, then confirm its top trials
    if the spec's `[run] confirm` asks, in the time the --timeout leaves."""
    opts = resolve_options(spec, flags)
    study, ctx = prepare(spec, opts)
    done = finished(study)
    if feed.starting is not None:
        teachers = tuple(possible_teachers(spec.space.train))
        others = tuple(o.pid for o in other_local_runs(study))
        res = opts.resources
        feed.starting(SearchStart(spec.name, done, opts.trials, res.workers, res.threads, redact(opts.storage),
                                  others, teachers, len(ctx.train)))  # fmt: skip
    if done < opts.trials:
        before = len(study.get_trials(deepcopy=False))
        run(study, ctx, opts, make_watcher)
        if opts.deadline is not None and time_left(opts) == 0 and feed.timeout_reached is not None:
            cut = [t for t in study.get_trials(deepcopy=False)[before:] if t.state == optuna.trial.TrialState.WAITING]
            feed.timeout_reached(len(cut))
    outcome = confirm_best(study, spec, opts, feed.confirm)
    if outcome.cut and feed.confirmation_cut is not None:
        feed.confirmation_cut(outcome, spec.run.confirm.seeds)
    return study


def join_study(spec: StudySpec, flags: SearchFlags, make_watcher: WatcherFactory = silent) -> optuna.Study:
    """One worker process adding trials to a shared study (`tinynas worker`): its own sampler
    seed (distinct samples per machine, not reproducible by design), no confirmation."""
    opts: SearchOptions = replace(resolve_options(spec, replace(flags, jobs=1)), worker=os.getpid())
    study, ctx = prepare(spec, opts)
    optimize(study, ctx, opts, make_watcher(study))
    return study
