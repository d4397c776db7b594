"""A trial left RUNNING by a dead process on this host is failed and retried at once;
a live owner's trial, or another host's, is left alone (the heartbeat rule covers those)."""

from __future__ import annotations

import subprocess
import sys

import optuna
import psutil
from optuna.trial import TrialState

from search.study.owners import Owner, fail_dead_local_trials
from search.study.record import user_attrs


def running_trial(study: optuna.Study, owner: Owner, x: float) -> int:
    study.enqueue_trial({"x": x}, user_attrs=user_attrs(owner=owner.as_dict()))
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    return trial.number


def dead_owner() -> Owner:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(child.pid).create_time()
    child.wait()
    return Owner(Owner.current().host, child.pid, started)


def test_dead_local_owner_is_failed_and_its_configuration_queued_again() -> None:
    study = optuna.create_study()
    dead = running_trial(study, dead_owner(), 0.25)
    alive = running_trial(study, Owner.current(), 0.5)
    elsewhere = running_trial(study, Owner("another-host", 1, 0.0), 0.75)
    assert fail_dead_local_trials(study) == [dead]
    states = {t.number: t.state for t in study.get_trials()}
    assert states[dead] == TrialState.FAIL
    assert states[alive] == states[elsewhere] == TrialState.RUNNING
    (queued,) = study.get_trials(states=(TrialState.WAITING,))
    assert queued.params == {"x": 0.25}
    assert fail_dead_local_trials(study) == []  # nothing left to do, and it is idempotent


def test_a_reused_pid_is_not_the_owner() -> None:
    me = Owner.current()
    assert me.alive()
    assert not Owner(me.host, me.pid, me.started - 3600).alive()
