"""A failed trial's configuration queued again, as Optuna's `RetryHeartbeatStaleTrialCallback`
queues it (a WAITING trial with the same parameters and attributes, and the `failed_trial` and
`retry_history` system attributes Optuna's helpers read), except in what counts towards giving
it up: only the failures that may be the configuration's own."""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.limits import TRIAL_RETRIES

DEATHS = "tinynas:deaths"
"""System attribute of a queued trial: how many times its configuration's process died under it."""


@dataclass(frozen=True)
class Requeue:
    """Queue a failed trial's configuration again; give it up after its process died more than
    TRIAL_RETRIES times (a configuration that kills its worker, e.g. by running it out of memory,
    would otherwise be retried for ever). A stop (a signal, the deadline) never counts: it is not
    the configuration's doing, and a search of hours is stopped and resumed many times."""

    died: bool = True
    """Whether the trial's process died (killed, crashed, silent past the heartbeat), as
    opposed to being stopped."""

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        attrs = {"failed_trial": trial.number, "retry_history": [], **trial.system_attrs}
        attrs["retry_history"] = [*attrs["retry_history"], trial.number]
        attrs[DEATHS] = int(attrs.get(DEATHS, 0)) + self.died
        if attrs[DEATHS] > TRIAL_RETRIES:
            return
        study.add_trial(
            optuna.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs=trial.user_attrs,
                system_attrs=attrs,
            )
        )
