"""The signals that stop a run, and what a stopped run exits with.

Service managers and cluster schedulers (systemd, Kubernetes, Slurm, `timeout`) stop a
program with SIGTERM to its main process, a closed terminal sends SIGHUP, Ctrl-C sends
SIGINT: each stops a tinynas run the same way (every worker stops, the running trials are
recorded and queued again), and the run exits with 128 + the signal's number, as shells do.
Worker processes also die with their parent when it is killed outright (SIGKILL), so no
orphan goes on training.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
"""Each stops a run as Ctrl-C does."""

_received: list[int] = []


def record(signum: int) -> None:
    """Note the signal that stopped this run (the first one counts)."""
    if not _received:
        _received.append(signum)


def stopped_by() -> int:
    """The signal that stopped this run (SIGINT when none was recorded: a KeyboardInterrupt)."""
    return _received[0] if _received else int(signal.SIGINT)


def stop_exit_code() -> int:
    """128 + the stopping signal: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + stopped_by()


def stop_name() -> str:
    return signal.Signals(stopped_by()).name


PR_SET_PDEATHSIG = 1
"""prctl(2): the signal this process gets when its parent dies."""


def die_with_parent(signum: int, parent: int) -> None:
    """Ask Linux to send `signum` to this process when its parent (pid `parent`) dies; if it
    is already gone, act on it now. Elsewhere a no-op (the parent's pipes close instead)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signum)
