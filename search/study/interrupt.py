"""Ctrl-C that stops a search promptly without tearing a database write in half."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import optuna

T = TypeVar("T")


@contextmanager
def graceful_interrupts(on_first: Callable[[], None] | None = None) -> Iterator[None]:
    """The first SIGINT raises KeyboardInterrupt where the code is (Optuna then records the
    running trial as FAILED); later ones are ignored from then on (a stopping process).
    Without an interrupt, the previous handler is restored.

    Installed explicitly because a process started in the background inherits SIGINT as
    ignored, and a search must be stoppable however it was started.
    """

    def first(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if on_first is not None:
            on_first()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stop is under way: no second traceback on the way out
        raise
    signal.signal(signal.SIGINT, previous)


class TrialGuard:
    """Ctrl-C during a search, made safe for the study.

    Inside a trial the first SIGINT raises KeyboardInterrupt at once, and Optuna records
    that trial as FAILED. Anywhere else (between trials, while Optuna creates or finishes
    one) it only asks the loop to stop after the current step, so no trial is ever left
    RUNNING. Later SIGINTs are ignored: the stop is already under way.
    """

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.requested = False
        self._in_trial = False
        self._on_first = on_first

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            return
        self.requested = True
        if self._on_first is not None:
            self._on_first()
        if self._in_trial:
            raise KeyboardInterrupt

    def _unraisable(self, info: sys.UnraisableHookArgs) -> None:
        """A KeyboardInterrupt raised while Python ran a garbage-collection callback cannot
        propagate; the stop is already recorded (`requested`), so the trial ends normally and the
        loop stops after it: nothing to print."""
        if not (self.requested and isinstance(info.exc_value, KeyboardInterrupt)):
            self._previous_hook(info)

    @contextmanager
    def installed(self) -> Iterator[None]:
        previous = signal.signal(signal.SIGINT, self._handle)
        self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        try:
            yield
        finally:  # once a stop was asked for, later Ctrl-Cs stay ignored while the caller winds down
            signal.signal(signal.SIGINT, signal.SIG_IGN if self.requested else previous)
            sys.unraisablehook = self._previous_hook
        if self.requested:
            raise KeyboardInterrupt

    def run(self, func: Callable[..., T], *args: object) -> T:
        if self.requested:
            raise KeyboardInterrupt  # asked to stop while Optuna was creating this trial
        self._in_trial = True
        try:
            return func(*args)
        finally:
            self._in_trial = False

    def stop_if_requested(self, study: optuna.Study, trial: object) -> None:
        """An Optuna callback: end the loop after a trial finished during a Ctrl-C."""
        if self.requested:
            study.stop()
