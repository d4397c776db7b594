"""Ctrl-C that stops a search promptly without tearing a database write in half."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def graceful_interrupts(on_first: Callable[[], None] | None = None) -> Iterator[None]:
    """The first SIGINT raises KeyboardInterrupt where the code is (Optuna then records the
    running trial as FAILED); later ones are ignored until that cleanup is done.

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
    finally:
        signal.signal(signal.SIGINT, previous)
