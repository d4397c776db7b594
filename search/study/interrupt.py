"""Ctrl-C (or SIGTERM, SIGHUP: `search.signals`) that stops a search promptly without tearing
a database write in half."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import optuna

from search.signals import STOP_SIGNALS, record

T = TypeVar("T")


def _install(handler: object) -> dict[int, object]:
    """`handler` for every stop signal; the previous handlers, to restore."""
    return {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}  # type: ignore[arg-type]


def _ignore_stops() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


@contextmanager
def stop_signals_restored() -> Iterator[None]:
    """The stop signals' handlers as they were before the block, however it ends. A stopped run
    leaves them ignored while it winds down (a second Ctrl-C must not cut a write in half); a
    program that ran it in-process (a notebook, a service) gets its own back, and the processes
    it starts later do not inherit them ignored (a shell cannot trap a signal ignored on entry)."""
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in before.items():
            if handler is not None:  # None: installed outside Python, nothing to put back
                signal.signal(sig, handler)


@contextmanager
def graceful_interrupts(on_first: Callable[[], None] | None = None) -> Iterator[None]:
    """The first stop signal (Ctrl-C, SIGTERM, SIGHUP) raises KeyboardInterrupt where the code
    is (Optuna then records the running trial as FAILED); later ones are ignored from then on
    (a stopping process). Without one, the previous handlers are restored.

    Installed explicitly because a process started in the background inherits SIGINT as
    ignored, and a search must be stoppable however it was started.
    """

    def first(signum: int, frame: object) -> None:
        record(signum)
        _ignore_stops()
        if on_first is not None:
            on_first()
        raise KeyboardInterrupt

    previous = _install(first)
    try:
        yield
    except KeyboardInterrupt:
        _ignore_stops()  # the stop is under way: no second traceback on the way out
        raise
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


_writing = 0  # depth of `storage_write` blocks in this process
_deferred: type[BaseException] | None = None  # a stop that arrived inside one, raised when the outermost ends


class DeadlineReached(BaseException):
    """The command's `--timeout` ran out. A BaseException, so no `except Exception` swallows it."""


def _stop_now(exc: type[BaseException]) -> None:
    """Raise `exc` here, or when the storage write under way ends."""
    global _deferred
    if _writing:
        _deferred = exc
    else:
        raise exc


@contextmanager
def storage_write() -> Iterator[None]:
    """A trial's own writes to the storage (its curves, its reports): a stop signal arriving
    inside is raised when the block ends, never half-way through a database transaction (a
    connection left in one would hold SQLite's lock against this very process's FAIL record)."""
    global _writing, _deferred
    _writing += 1
    try:
        yield
    finally:
        _writing -= 1
    if _writing == 0 and _deferred is not None:
        exc, _deferred = _deferred, None
        raise exc


class TrialGuard:
    """Ctrl-C during a search, made safe for the study.

    Inside a trial the first stop signal raises KeyboardInterrupt at once, and Optuna records
    that trial as FAILED (the run then queues it again). Anywhere else (between trials, while
    Optuna creates or finishes one) it only asks the loop to stop after the current step, so
    no trial is ever left RUNNING. Later signals are ignored: the stop is already under way.
    """

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.requested = False
        self.expired = False  # the stop was the deadline's, not a signal's
        self._in_trial = False
        self._on_first = on_first

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            return
        record(signum)
        self.requested = True
        if self._on_first is not None:
            self._on_first()
        if self._in_trial:
            _stop_now(KeyboardInterrupt)

    def _expire(self, signum: int, frame: object) -> None:
        """The deadline: the trial under way is cut short as by a stop signal (recorded FAIL,
        queued again), then the run ends normally."""
        if self.requested:
            return
        self.requested = self.expired = True
        if self._in_trial:
            _stop_now(KeyboardInterrupt)

    def _unraisable(self, info: sys.UnraisableHookArgs) -> None:
        """A KeyboardInterrupt raised while Python ran a garbage-collection callback cannot
        propagate; the stop is already recorded (`requested`), so the trial ends normally and the
        loop stops after it: nothing to print."""
        if not (self.requested and isinstance(info.exc_value, KeyboardInterrupt)):
            self._previous_hook(info)

    @contextmanager
    def installed(self, deadline: float | None = None) -> Iterator[None]:
        """The guard's handlers for the stop signals and, with a `deadline` (time.monotonic()),
        for its alarm. A stop signal ends the block with KeyboardInterrupt; the deadline
        ends it normally."""
        previous = _install(self._handle)
        self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        with _alarm(deadline, self._expire):
            try:
                yield
            except KeyboardInterrupt:
                if not self.expired:  # a stop signal's: the caller stops too
                    raise
            finally:  # once a stop was asked for, later signals stay ignored while the caller winds down
                for sig, handler in previous.items():
                    signal.signal(sig, signal.SIG_IGN if self.requested else handler)  # type: ignore[arg-type]
                sys.unraisablehook = self._previous_hook
        if self.requested and not self.expired:
            raise KeyboardInterrupt

    def run(self, func: Callable[..., T], *args: object) -> T:
        if self.requested:
            raise KeyboardInterrupt  # asked to stop while Optuna was creating this trial
        global _deferred
        self._in_trial = True
        try:
            return func(*args)
        finally:
            self._in_trial = False
            _deferred = None  # a stop deferred past a write that then raised: the loop stops anyway

    def stop_if_requested(self, study: optuna.Study, trial: object) -> None:
        """An Optuna callback: end the loop after a trial finished during a Ctrl-C."""
        if self.requested:
            study.stop()


@contextmanager
def _alarm(deadline: float | None, handler: Callable[[int, object], None]) -> Iterator[None]:
    """SIGALRM at `deadline` (time.monotonic()) calls `handler`; none without a deadline."""
    if deadline is None or not hasattr(signal, "setitimer"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, max(deadline - time.monotonic(), 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def expires(deadline: float | None) -> Iterator[None]:
    """Raise DeadlineReached where the code is at `deadline` (after a storage write under way)."""

    def reached(signum: int, frame: object) -> None:
        _stop_now(DeadlineReached)

    with _alarm(deadline, reached):
        yield
