"""Who runs a trial, so that a run can tell a trial left RUNNING by a dead process on this
host (fail it and run its configuration again, now) from one a live process still runs.

Optuna's heartbeat only notices a dead worker after its grace period, and only while
some run is looking; a rerun started at once would otherwise leave the killed trial
RUNNING for ever. Trials owned by other hosts keep the heartbeat rule.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass

import optuna
import psutil
from optuna.trial import TrialState

from search.study.record import TrialRecord
from search.study.retries import Requeue


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: float
    """The process's start time (seconds since the epoch): a reused PID is not the owner."""

    @classmethod
    def current(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), psutil.Process().create_time())

    @classmethod
    def from_dict(cls, data: dict | None) -> Owner | None:
        try:
            return cls(str(data["host"]), int(data["pid"]), float(data["started"])) if data else None
        except (KeyError, TypeError, ValueError):
            return None

    def as_dict(self) -> dict:
        return asdict(self)

    def on_this_host(self) -> bool:
        return self.host == socket.gethostname()

    def alive(self) -> bool:
        """Only meaningful on the owner's own host."""
        try:
            return abs(psutil.Process(self.pid).create_time() - self.started) < 1.0
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return False
        except psutil.AccessDenied:
            return True  # someone else's live process


def fail_dead_local_trials(study: optuna.Study) -> list[int]:
    """RUNNING trials whose owner ran on this host and is gone: marked FAIL, their
    configurations queued again (`Requeue`). Returns their numbers."""
    reaped = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = Owner.from_dict(TrialRecord.of(t).owner)
        if owner is None or not owner.on_this_host() or owner.alive():
            continue
        try:
            study.tell(t.number, state=TrialState.FAIL)
        except (ValueError, RuntimeError):
            continue  # finished or failed by another run in the meantime
        retry_trial(study, t.number, died=True)
        reaped.append(t.number)
    return reaped


def other_local_runs(study: optuna.Study) -> list[Owner]:
    """Live processes on this host, other than this one, training a trial of the study now:
    another search (or worker) sharing it. Each trains its own configurations; together they
    may hold more processes than the host has cores."""
    me = os.getpid()
    found: dict[int, Owner] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = Owner.from_dict(TrialRecord.of(t).owner)
        if owner is not None and owner.on_this_host() and owner.pid != me and owner.alive():
            found[owner.pid] = owner
    return list(found.values())


def retry_trial(study: optuna.Study, number: int, *, died: bool) -> bool:
    """Queue the configuration of FAILED trial `number` again (`Requeue`: a trial stopped by a
    signal or the deadline always, one whose process `died` at most TRIAL_RETRIES times per
    configuration). False when it is not FAILED."""
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if trial is None or trial.state != TrialState.FAIL:
        return False
    Requeue(died=died)(study, trial)
    return True


def lost_to_another_run(study: optuna.Study, number: int) -> bool:
    """Whether trial `number` was taken from this run while it trained it: another run failed
    it (its heartbeat fell silent past the grace period, e.g. while the database server
    restarted or the machine was overloaded) and, retries left, queued its configuration
    again. This run's result for it is void; Optuna cannot record it on a failed trial."""
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    return trial is not None and trial.state == TrialState.FAIL
