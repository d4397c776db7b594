"""`tinynas export`: choose a trial by a stated rule and write what `retrain` consumes."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from pathlib import Path

import optuna

from search.errors import TinynasError, holds_json_keys
from search.limits import DEFAULT_TARGET
from search.study import StudyRecord, StudySpec, TrialRecord, complete_records
from search.study.record import Confirmation
from search.training import Experiment, Provenance
from search.version import __version__


def _describe(r: TrialRecord) -> str:
    return f"trial {r.number}: {r.value:.2f}% validation accuracy with {r.params:,} params"


def study_target(study: optuna.Study) -> float:
    """The target a study's spec states (older studies: DEFAULT_TARGET)."""
    target = StudyRecord.of(study).target
    return DEFAULT_TARGET if target is None else float(target)


def _checked(target: float) -> float:
    if not (math.isfinite(target) and 0 <= target <= 100):
        raise TinynasError(f"--target must be a percentage in [0, 100], got {target}")
    return target


def within_params(study: optuna.Study, max_params: int | None) -> list[TrialRecord]:
    """The complete trials with at most `max_params` parameters (all of them when None): one
    budget's row of a Pareto front, e.g. the best under 1,000 parameters."""
    complete = complete_records(study)
    if max_params is None:
        return complete
    within = [r for r in complete if r.size <= max_params]
    if complete and not within:
        least = min(complete, key=lambda r: r.size)
        raise TinynasError(
            f"no complete trial of {study.study_name} has at most {max_params:,} parameters; the smallest is "
            f"trial {least.number} with {least.size:,}: raise --max-params"
        )
    return within


def candidates(
    study: optuna.Study,
    rule: str,
    target: float | None = None,
    n: int | None = None,
    max_params: int | None = None,
) -> list[TrialRecord]:
    """The trials a rule would pick, in its order of preference: 'best' by validation accuracy,
    'smallest' (those meeting the target) by parameters then accuracy, 'trial=N' that one;
    only trials of at most `max_params` parameters when given. Without a target, the study's
    own (from its spec) is used."""
    target = _checked(study_target(study) if target is None else target)
    complete = within_params(study, max_params)
    if match := re.fullmatch(r"trial=(\d+)", rule):
        number = int(match.group(1))
        found = [r for r in complete if r.number == number]
        if not found:
            raise TinynasError(f"trial {number} of study {study.study_name} is not a complete trial within budget")
        return found
    if rule not in ("smallest", "best"):
        raise TinynasError(f"unknown rule {rule!r}; use smallest, best or trial=N")
    if not complete:
        raise TinynasError(f"study {study.study_name} has no complete trials yet; run `tinynas search` first")
    best = max(complete, key=lambda r: r.score)
    if rule == "best":
        ordered = sorted(complete, key=lambda r: -r.score)
    else:
        ordered = sorted((r for r in complete if r.score >= target), key=lambda r: (r.size, -r.score))
        if not ordered:
            raise TinynasError(
                f"no complete trial of {study.study_name} reaches {target:.2f}% validation accuracy; the best is "
                f"{_describe(best)}: lower --target or use --rule best"
            )
    return ordered[:n] if n else ordered


def pick(study: optuna.Study, rule: str, target: float | None = None, max_params: int | None = None) -> TrialRecord:
    """'smallest' meeting the target (ties: more accurate), 'best' accuracy, or 'trial=N'."""
    return candidates(study, rule, target, 1, max_params)[0]


def pick_confirmed(
    study: optuna.Study,
    rule: str,
    confirmed: dict[int, Confirmation],
    target: float | None = None,
    max_params: int | None = None,
) -> TrialRecord:
    """The rule applied to the confirmed means of the confirmed trials (of at most `max_params`)."""
    target = _checked(study_target(study) if target is None else target)
    pool = [r for r in within_params(study, max_params) if r.number in confirmed]
    mean = {r.number: confirmed[r.number].mean for r in pool}
    if rule == "smallest":
        meeting = [r for r in pool if mean[r.number] >= target]
        if not meeting:
            top = max(pool, key=lambda r: mean[r.number])
            raise TinynasError(
                f"none of the {len(pool)} confirmed trials holds {target:.2f}% on fresh seeds; the best is trial "
                f"{top.number} at {mean[top.number]:.2f}% (searched {top.value:.2f}%): lower --target, use "
                "--rule best, or confirm more trials"
            )
        return min(meeting, key=lambda r: (r.params, -mean[r.number]))
    return max(pool, key=lambda r: mean[r.number])


def searched_confirmations(study: optuna.Study) -> dict[int, Confirmation]:
    """The confirmations the search itself made (its spec's `[run] confirm`), by trial: those
    with the spec's number of seeds. Empty when the spec asks for none."""
    about = StudyRecord.of(study)
    if about.spec is None:
        return {}
    wanted = StudySpec.model_validate(about.spec).run.confirm
    if not wanted.top:
        return {}
    return {n: c for n, c in about.confirmed.items() if len(c.seeds) == wanted.seeds}


def experiment_for(study: optuna.Study, chosen: TrialRecord, confirmation: Confirmation | None = None) -> Experiment:
    exp, about = chosen.experiment(), StudyRecord.of(study)
    confirmed = {}
    if confirmation is not None:
        confirmed = {
            "confirmed_val_acc": confirmation.mean,
            "confirmed_per_seed": confirmation.per_seed,
            "confirm_seeds": confirmation.seeds,
        }
    provenance = Provenance.model_validate(
        {
            "study": study.study_name,
            "trial": chosen.number,
            "val_acc": chosen.value,
            "params": chosen.params,
            "macs": chosen.macs,
            "tinynas_version": __version__,
            **({"data_digest": about.data_digest} if about.data_digest else {}),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "val_curve": list(chosen.val_curve),
            "objective": about.objective,
            "seeds": list(chosen.seeds) or [exp.train.seed],
            **({"teacher": chosen.teacher} if chosen.teacher else {}),  # trained on the search's images
            **confirmed,
        }
    )
    model = exp.model.model_copy(update={"name": f"{study.study_name}-t{chosen.number}"})
    return exp.model_copy(update={"model": model, "provenance": provenance})


def is_export(path: Path) -> bool:
    """Whether `path` is an experiment JSON as `export` writes it (model, recipe, provenance)."""
    return holds_json_keys(path, {"model", "train", "provenance"})
