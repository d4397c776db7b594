"""Independent runs spread over worker processes, so every core trains.

Tiny models do not split well across threads (benchmarks/cores.py): on a CPU, separate runs
on separate cores, one thread each, finish more work per hour than one run on all cores.
The work is a module-level function (spawned processes import it) applied to each job;
results come back in the jobs' order as each finishes.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Iterator
from typing import TypeVar

from search.signals import die_with_parent
from search.training.device import set_threads

Job = TypeVar("Job")
Result = TypeVar("Result")


def _init(threads: int | None, parent: int) -> None:
    from search.quiet import quiet_libraries

    die_with_parent(signal.SIGTERM, parent)  # no orphan trains on after a killed parent
    quiet_libraries()
    set_threads(threads)


def in_workers(work: Callable[[Job], Result], jobs: list[Job], workers: int, threads: int | None) -> Iterator[Result]:
    """work(job) for every job, in `workers` processes of `threads` threads each (1 worker: here)."""
    if workers <= 1 or len(jobs) <= 1:
        set_threads(threads)
        yield from map(work, jobs)
        return
    with mp.get_context("spawn").Pool(
        min(workers, len(jobs)), initializer=_init, initargs=(threads, os.getpid())
    ) as pool:
        yield from pool.imap(work, jobs, chunksize=1)
