"""`tinynas export`: choose a trial by a stated rule and write what `retrain` consumes."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import optuna
from optuna.trial import FrozenTrial, TrialState

from search import __version__
from search.errors import TinynasError
from search.experiment import Experiment, Provenance
from search.feed import trial_kind

DEFAULT_TARGET = 99.4


def _complete(study: optuna.Study) -> list[FrozenTrial]:
    """Trained to the end and within the budget; the only trials a rule may pick."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return [t for t in trials if trial_kind(t) == "COMPLETE"]


def _describe(t: FrozenTrial) -> str:
    return f"trial {t.number}: {t.values[0]:.2f}% validation accuracy with {t.user_attrs['params']:,} params"


def pick(study: optuna.Study, rule: str, target: float = DEFAULT_TARGET) -> FrozenTrial:
    """'smallest' meeting the target (ties: more accurate), 'best' accuracy, or 'trial=N'."""
    complete = _complete(study)
    if match := re.fullmatch(r"trial=(\d+)", rule):
        number = int(match.group(1))
        found = [t for t in complete if t.number == number]
        if not found:
            raise TinynasError(f"trial {number} of study {study.study_name} is not a complete trial within budget")
        return found[0]
    if rule not in ("smallest", "best"):
        raise TinynasError(f"unknown rule {rule!r}; use smallest, best or trial=N")
    if not complete:
        raise TinynasError(f"study {study.study_name} has no complete trials yet; run `tinynas search` first")
    best = max(complete, key=lambda t: t.values[0])
    if rule == "best":
        return best
    meeting = [t for t in complete if t.values[0] >= target]
    if not meeting:
        raise TinynasError(
            f"no complete trial of {study.study_name} reaches {target:.2f}% validation accuracy; the best is "
            f"{_describe(best)}: lower --target or use --rule best"
        )
    return min(meeting, key=lambda t: (t.user_attrs["params"], -t.values[0]))


def experiment_for(study: optuna.Study, trial: FrozenTrial) -> Experiment:
    exp = Experiment.model_validate(trial.user_attrs["config"])
    provenance = Provenance(
        study=study.study_name,
        trial=trial.number,
        val_acc=trial.values[0],
        params=trial.user_attrs["params"],
        macs=trial.user_attrs["macs"],
        tinynas_version=__version__,
        date=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        val_curve=trial.user_attrs.get("val_curve"),
        objective=study.user_attrs.get("objective"),
    )
    model = exp.model.model_copy(update={"name": f"{study.study_name}-t{trial.number}"})
    return exp.model_copy(update={"model": model, "provenance": provenance})
