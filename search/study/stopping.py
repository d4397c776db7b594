"""When a search's loop stops: at the study's target count of finished trials (counting those
other workers are training), or after a run of draws none of which could be trained."""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.errors import TinynasError
from search.study.feasibility import NARROW
from search.study.record import Kind, TrialRecord

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def finished(study: optuna.Study) -> int:
    """Trials that trained (complete or pruned); over-budget ones cost nothing and don't count."""
    return sum(TrialRecord.of(t).kind is not Kind.INFEASIBLE for t in study.get_trials(deepcopy=False, states=FINISHED))


@dataclass
class InfeasibleStreak:
    """Stops the loop after `limit` consecutive draws that could not be trained."""

    limit: int
    streak: int = 0
    last: str = ""

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        r = TrialRecord.of(trial)
        if r.kind is not Kind.INFEASIBLE:
            self.streak = 0
            return
        self.streak += 1
        self.last = r.invalid.splitlines()[0] if r.invalid else f"over budget: {r.over or f'{r.params:,} params'}"
        if self.streak >= self.limit:
            study.stop()

    @property
    def tripped(self) -> bool:
        return self.streak >= self.limit

    def error(self) -> TinynasError:
        return TinynasError(
            f"stopped after {self.streak} draws in a row gave no trainable model (last: {self.last}); "
            f"{NARROW} (or raise run.infeasible_streak); the study is consistent"
        )


@dataclass(frozen=True)
class StopAt:
    """Stops the optimize loop once the study holds `target` trained trials, counting those
    other workers are training now (so N workers do not overshoot the target by N - 1)."""

    target: int

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if finished(study) + running >= self.target:
            study.stop()
