"""A search's options: what a user may set for one run beside the spec (`SearchFlags`, the
CLI's flags and the API's keywords), resolved once with the spec into `SearchOptions`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from search.data import data_root
from search.errors import TinynasError, check_range
from search.limits import MAX_SEEDS, MAX_TRIALS
from search.study.spec import StudySpec, parse_duration
from search.study.storage import resolve_url
from search.training import ONE_PROCESS, Resources, resources


@dataclass(frozen=True)
class SearchOptions:
    """Everything a run needs beyond the spec, resolved once from the spec and the flags."""

    storage: str
    trials: int
    data_root: Path
    deadline: float | None = None
    """time.monotonic() by which the whole command ends (--timeout): trials in flight are cut
    short then and queued again, confirmation gets what is left (the clock is the host's, so
    worker processes share it)."""
    subset: int | None = None
    resources: Resources = ONE_PROCESS
    """The device, the worker processes of this run and the PyTorch threads of each."""
    seeds_per_trial: int = 1
    confirm: bool = True
    """Whether the search ends by confirming its top trials (as the spec's [run] confirm asks)."""
    worker: int = 0
    """Offsets the sampler's seed, so workers starting together do not sample alike."""


@dataclass(frozen=True)
class SearchFlags:
    """What a user may set for one run of a search, beside its spec: the CLI's flags and the
    Python API's keywords are these fields, declared here once. None: the spec's value (or the
    default rule: `resolve_url`, `data_root`)."""

    trials: int | None = None  # run until the study holds this many finished trials
    timeout: str | None = None  # the whole command ends after e.g. 90m or 2h
    storage: str | None = None  # SQLAlchemy URL
    data_dir: str | Path | None = None  # dataset root holding MNIST/raw
    subset: int | None = None  # training images per trial
    device: str = "cpu"
    jobs: int | None = None  # worker processes on this machine (default: `resources`)
    threads: int | None = None  # PyTorch threads per worker (default: the cores split between the workers)
    seeds_per_trial: int | None = None  # seeds each trial trains (fused); its score is their mean
    confirm: bool | None = None  # False: skip the spec's [run] confirm


def resolve_options(spec: StudySpec, flags: SearchFlags) -> SearchOptions:
    """The one place where a flag overrides the spec: a flag given wins, else the spec's value."""
    trials, timeout, storage, subset = flags.trials, flags.timeout, flags.storage, flags.subset
    jobs, threads, seeds_per_trial = flags.jobs, flags.threads, flags.seeds_per_trial
    if trials is not None:
        check_range("--trials", trials, 1, MAX_TRIALS)
    if subset is not None and subset < 1:  # its upper bound is the split's size, checked where the data loads
        raise TinynasError(f"--subset must be at least 1, got {subset}")
    if seeds_per_trial is not None:
        check_range("--seeds-per-trial", seeds_per_trial, 1, MAX_SEEDS)
    timeout_s = parse_duration(timeout) if timeout else spec.run.timeout_s
    return SearchOptions(
        storage=resolve_url(storage, spec.name),
        trials=trials or spec.run.trials,
        data_root=data_root(Path(flags.data_dir) if flags.data_dir else None),
        deadline=None if timeout_s is None else time.monotonic() + timeout_s,
        subset=subset or spec.run.subset,
        resources=resources(flags.device, jobs, threads),
        seeds_per_trial=seeds_per_trial or spec.run.seeds_per_trial,
        confirm=flags.confirm is not False and spec.run.confirm.top > 0,
    )


def time_left(opts: SearchOptions) -> float | None:
    """Seconds until the command's deadline (0 once past it); None without a --timeout."""
    return None if opts.deadline is None else max(0.0, opts.deadline - time.monotonic())
