"""Where runs happen: in this process, or spread over worker processes so every core trains.

Tiny models do not split well across threads (benchmarks/cores.py): on a CPU, separate runs
on separate cores, one thread each, finish more work per hour than one run on all cores.
Two shapes of work, one home for both:

- `in_workers`: independent jobs (a confirmation's seeds, a retrain's seeds) in a pool; the
  results come back in the jobs' order as each finishes. While it runs, a job may `tell` the
  caller how it is going (e.g. an epoch done): the caller's `on_news` gets it, in this
  process whichever process the job runs in.
- `in_processes`: long-lived workers (a search's, each taking trials from one study until
  it is done), each in a process of its own; a stop reaches every one of them and each is
  waited for, so each records what it was doing.

The work is a module-level function (spawned processes import it). Every worker dies with
this process when it is killed outright, so no orphan trains on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from search.signals import die_with_parent
from search.training.device import Resources, set_threads

Job = TypeVar("Job")
Result = TypeVar("Result")


News = Callable[[Any], None]
_news: News | None = None  # where `tell` sends: the caller's callback here, a queue in a worker


def tell(news: Any) -> None:
    """From inside a job: pass `news` (picklable) to the caller's `on_news`; nothing without one."""
    if _news is not None:
        _news(news)


@contextmanager
def _news_to(on_news: News | None) -> Iterator[None]:
    global _news
    saved, _news = _news, on_news
    try:
        yield
    finally:
        _news = saved


def _init(threads: int | None, parent: int, queue: Any) -> None:
    from search.quiet import quiet_libraries

    global _news
    die_with_parent(signal.SIGTERM, parent)  # no orphan trains on after a killed parent
    quiet_libraries()
    set_threads(threads)
    _news = queue.put if queue is not None else None


def _relay(queue: Any, on_news: News) -> None:
    """In the caller, a thread handing the workers' news on until the None that ends it."""
    while (news := queue.get()) is not None:
        on_news(news)


@contextmanager
def main_left_out() -> Iterator[None]:
    """Worker processes start without running the caller's main script again.

    A spawned process imports the parent's `__main__` (as `__mp_main__`) unless it is told
    nothing about it: a plain script or `python -` that calls tinynas at top level, with no
    `if __name__ == "__main__"` guard (the README's API block), would then run again in every
    worker and fail. tinynas's workers run only functions of its own modules, so while they
    start, `__main__` hides its file and spec (what multiprocessing reads to find it)."""
    main = sys.modules.get("__main__")
    names = vars(main) if main is not None else {}
    saved: dict[str, Any] = {name: names[name] for name in ("__file__", "__spec__") if name in names}
    names.pop("__file__", None)
    names["__spec__"] = None  # read, not looked up: it must be there
    try:
        yield
    finally:
        names.pop("__spec__", None)
        names.update(saved)


def _start(work: Callable[[Job], object], job: Job, parent: int) -> None:
    """A long-lived worker's first steps: it stops as on Ctrl-C when its parent is killed."""
    from search.quiet import quiet_libraries

    die_with_parent(signal.SIGINT, parent)
    quiet_libraries()
    work(job)


def in_processes(work: Callable[[Job], object], jobs: list[Job]) -> int:
    """work(job) for each job in a process of its own, all at once, until each ends; returns
    how many failed (their errors are on their own output). A stop here (KeyboardInterrupt:
    Ctrl-C, or a stop signal made one) is passed to every process as SIGINT and each is
    waited for before the stop goes on up, so none is cut off in the middle of a write."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_start, args=(work, job, os.getpid())) for job in jobs]
    with main_left_out():  # a plain script calling the API is not run again in each worker
        for p in procs:
            p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            p.join()
        raise
    return sum(1 for p in procs if p.exitcode)


def in_workers(
    work: Callable[[Job], Result],
    jobs: list[Job],
    resources: Resources,
    on_news: News | None = None,
) -> Iterator[Result]:
    """work(job) for every job, in the resources' worker processes of their threads each (1
    worker: here); what a job `tell`s reaches `on_news` in this process as it happens."""
    workers, threads = resources.workers, resources.threads
    if workers <= 1 or len(jobs) <= 1:
        set_threads(threads)
        with _news_to(on_news):
            yield from map(work, jobs)
        return
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue() if on_news is not None else None
    relay = threading.Thread(target=_relay, args=(queue, on_news), daemon=True) if on_news is not None else None
    with main_left_out():
        pool = ctx.Pool(min(workers, len(jobs)), initializer=_init, initargs=(threads, os.getpid(), queue))
    if relay is not None:
        relay.start()
    try:
        with pool:
            yield from pool.imap(work, jobs, chunksize=1)
    finally:
        if relay is not None and queue is not None:
            queue.put(None)
            relay.join(timeout=5)
