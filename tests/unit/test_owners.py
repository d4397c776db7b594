"""A trial left RUNNING by a dead process on this host is failed and retried at once;
a live owner's trial, or another host's, is left alone (the heartbeat rule covers those)."""

from __future__ import annotations

import subprocess
import sys

import optuna
import psutil
from optuna.trial import TrialState

from search.study.owners import Owner, fail_dead_local_trials
from search.study.record import record_owner, user_attrs


def running_trial(study: optuna.Study, owner: Owner, x: float) -> int:
    study.enqueue_trial({"x": x})
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    record_owner(trial, owner.as_dict())
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


def test_a_retry_queued_with_its_dead_owner_is_not_failed_before_its_new_process_claims_it() -> None:
    """A retried configuration is queued with the user attributes of the trial it retries, its
    dead owner among them: a run that pops it must not see that owner as its own and fail it
    before it records itself (two workers resuming at once)."""
    study = optuna.create_study()
    dead = dead_owner()
    study.enqueue_trial({"x": 0.25}, user_attrs=user_attrs(owner={**dead.as_dict(), "trial": 99}))
    popped = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    assert fail_dead_local_trials(study) == []
    record_owner(popped, Owner.current().as_dict())
    assert fail_dead_local_trials(study) == []
    assert study.get_trials()[0].state == TrialState.RUNNING


def test_another_live_process_training_the_study_is_found_and_this_one_is_not() -> None:
    from search.study.owners import other_local_runs

    study = optuna.create_study()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = Owner(Owner.current().host, other.pid, psutil.Process(other.pid).create_time())
        running_trial(study, theirs, 0.1)
        running_trial(study, Owner.current(), 0.2)
        running_trial(study, dead_owner(), 0.3)
        assert [o.pid for o in other_local_runs(study)] == [other.pid]
    finally:
        other.kill()
        other.wait()
    assert other_local_runs(study) == []


POPPER = """
import json, sys
import optuna
from search.study.storage import open_storage
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="s", storage=open_storage(sys.argv[1], create=True))
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps([study.ask().number for _ in range(int(sys.argv[2]))]), flush=True)
"""


def test_processes_sharing_a_sqlite_study_each_take_a_queued_trial_of_their_own(tmp_path) -> None:
    """Workers of one search pop queued trials (starts, retries) from the same SQLite file at
    the same moment: each queued trial is run by one of them, never by two (the second to
    finish could not record it)."""
    import json

    url, each = f"sqlite:///{tmp_path / 's.db'}", 40
    study = optuna.create_study(study_name="s", storage=url)
    for x in range(2 * each):
        study.enqueue_trial({"x": x})
    poppers = [
        subprocess.Popen(
            [sys.executable, "-c", POPPER, url, str(each)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for p in poppers:  # both loaded, then both told at once: their asks overlap
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    for p in poppers:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    taken = []
    for p in poppers:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        taken += json.loads(out)
    assert sorted(taken) == list(range(2 * each))
