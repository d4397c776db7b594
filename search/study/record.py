"""The one owner of what a study and its trials store in Optuna's storage.

Every user-attribute key is written here and nowhere else: the objective writes through
the `record_*` functions, and everything that reads trials (the live feed, the trials
table, export, report, pruning) reads a `TrialRecord`. Older databases read the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from models import Analysis
from search.training import Experiment


class Kind(str, Enum):
    """What became of a trial. INFEASIBLE: over budget or an impossible shape, never trained
    (Optuna stores these as PRUNED, with the reason in a user attribute)."""

    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    INFEASIBLE = "INFEASIBLE"
    FAIL = "FAIL"
    RUNNING = "RUNNING"
    WAITING = "WAITING"


class _Key:
    """The user-attribute keys; values are JSON."""

    CONFIG = "config"  # the Experiment (model + recipe) exactly as retrain consumes it
    PARAMS = "params"
    MACS = "macs"
    RF = "receptive_field"
    EPOCHS = "epochs"  # epochs the recipe asks for (the curve may be shorter: pruned)
    VAL_CURVE = "val_curve"  # validation accuracy (%) after each epoch run (mean over the trial's seeds)
    VAL_CURVES = "val_curves"  # per seed: [[...], ...] (trials with seeds_per_trial > 1)
    SEEDS = "seeds"  # the seeds the trial trained (its replicas)
    INFEASIBLE = "infeasible"  # True: over the budget, never trained
    OVER = "over_budget"  # what an infeasible draw broke, in words ("5,210 params > 5,000")
    INVALID = "invalid"  # why the sampled architecture cannot exist
    OWNER = "owner"  # {host, pid, started, trial} of the process running it (search.study.owners)
    TEACHER = "teacher"  # the distillation teacher's identity (`Teacher.identity`), when the recipe distils
    RUNGS = "rungs"  # promotion: [{images, epochs, score, curve}] per cheaper run the trial climbed, in order
    TAKEN_UP = "taken_up"  # per run (rungs, then the full run): epochs restored from a cut-short run, not trained here
    DRAWN = "drawn"  # evolution's child: {how: mutation | new layout, parent: trial number, target: cost or None}


class StudyKey:
    """The study-level user attributes."""

    SPEC = "spec"
    SUBSET = "subset"  # training images per trial as the search ran it (None: all)
    CONFIRMED = "confirmed"  # {trial number: {"seeds": [...], "per_seed": [...], "mean": x}} (export --confirm)
    MAX_PARAMS = "max_params"
    MAX_EPOCHS = "max_epochs"
    DATASET = "dataset"
    OBJECTIVE = "objective"
    TARGET = "target"
    DATA_DIGEST = "data_digest"  # a user's own data: which content the study searched (DatasetInfo.digest)
    CLASSES = "classes"  # the data's class names, in label order, where it names them (folders, CIFAR-10)


MUTATION, NEW_LAYOUT = "mutation", "new layout"  # how evolution drew a child (`Drawn.how`)


@dataclass(frozen=True)
class Drawn:
    """How evolution drew a child: what its sampler planned for the trial (`EvolutionSampler.origin`)."""

    how: str
    """MUTATION (its parent's parameters, one or two changed) or NEW_LAYOUT (its parent's recipe,
    every model parameter drawn at random)."""
    parent: int
    """The parent's trial number."""
    target: float | None
    """The cost the child was aimed at (a Pareto study under the "target" rule), else None."""


@dataclass(frozen=True)
class RungResult:
    """One cheaper run of a trial's configuration (promotion): its share of the training
    images, its epochs, its score by the search's rule, and its validation curve."""

    images: float
    epochs: int
    score: float
    curve: tuple[float, ...]

    def describe(self) -> str:
        return f"{self.images:.0%} of the images, {self.epochs} epochs"


@dataclass(frozen=True)
class TrialRecord:
    """A trial as tinynas understands it, read from any storage."""

    number: int
    kind: Kind
    value: float | None
    params: int | None
    macs: int | None
    receptive_field: int | None
    epochs: int | None
    val_curve: tuple[float, ...]
    val_curves: tuple[tuple[float, ...], ...]
    seeds: tuple[int, ...]
    config: dict | None
    infeasible: bool
    invalid: str | None
    seconds: float | None
    sampled: dict[str, Any]
    owner: dict | None
    teacher: dict | None = None
    over: str | None = None
    """What an over-budget draw broke, in words (studies before device budgets kept none)."""
    rungs: tuple[RungResult, ...] = ()
    """Promotion: the cheaper runs it climbed (its val_curve is then the last run's)."""
    taken_up: tuple[int, ...] = ()
    """Per run (its rungs, then its full run): epochs restored from the state a trial cut short
    left (its retry's `seconds` do not include them)."""
    drawn: Drawn | None = None
    """Evolution: how the sampler drew this child; None for a random draw, a given
    configuration, or a trial from before it was recorded."""

    @classmethod
    def of(cls, t: FrozenTrial) -> TrialRecord:
        attrs = t.user_attrs
        infeasible, invalid = bool(attrs.get(_Key.INFEASIBLE)), attrs.get(_Key.INVALID)
        return cls(
            number=t.number,
            kind=Kind.INFEASIBLE if infeasible or invalid else Kind(t.state.name),
            value=t.values[0] if t.values else None,
            params=attrs.get(_Key.PARAMS),
            macs=attrs.get(_Key.MACS),
            receptive_field=attrs.get(_Key.RF),
            epochs=attrs.get(_Key.EPOCHS),
            val_curve=tuple(attrs.get(_Key.VAL_CURVE, ())),
            val_curves=tuple(tuple(c) for c in attrs.get(_Key.VAL_CURVES, ())),
            seeds=tuple(attrs.get(_Key.SEEDS, ())),
            config=attrs.get(_Key.CONFIG),
            infeasible=infeasible,
            invalid=invalid,
            seconds=t.duration.total_seconds() if t.duration else None,
            sampled=dict(t.params),
            owner=_claim(attrs.get(_Key.OWNER), t.number),
            teacher=attrs.get(_Key.TEACHER),
            over=attrs.get(_Key.OVER),
            rungs=tuple(
                RungResult(r["images"], r["epochs"], r["score"], tuple(r["curve"])) for r in attrs.get(_Key.RUNGS, ())
            ),
            taken_up=tuple(attrs.get(_Key.TAKEN_UP, ())),
            drawn=Drawn(**d) if (d := attrs.get(_Key.DRAWN)) else None,
        )

    @property
    def trained(self) -> bool:
        return self.kind in (Kind.COMPLETE, Kind.PRUNED)

    @property
    def score(self) -> float:
        """The objective value of a complete trial (its validation accuracy, %)."""
        if self.value is None:
            raise ValueError(f"trial {self.number} has no value: it did not complete")
        return self.value

    @property
    def size(self) -> int:
        """The parameter count of a trial that sampled a model."""
        if self.params is None:
            raise ValueError(f"trial {self.number} recorded no parameter count")
        return self.params

    @property
    def last_val_acc(self) -> float | None:
        return self.val_curve[-1] if self.val_curve else None

    def experiment(self) -> Experiment:
        if self.config is None:
            raise ValueError(f"trial {self.number} stored no config")
        return Experiment.model_validate(self.config)


def records(study: optuna.Study, states: tuple[TrialState, ...] | None = None) -> list[TrialRecord]:
    return [TrialRecord.of(t) for t in study.get_trials(deepcopy=False, states=states)]


def complete_records(study: optuna.Study) -> list[TrialRecord]:
    """Trained to the end and within the budget: the only trials a rule may pick."""
    return [r for r in records(study, (TrialState.COMPLETE,)) if r.kind is Kind.COMPLETE]


def record_owner(trial: optuna.Trial, owner: dict) -> None:
    trial.set_user_attr(_Key.OWNER, {**owner, _OWNED_TRIAL: trial.number})


_OWNED_TRIAL = "trial"


def _claim(owner: Any, number: int) -> dict | None:
    """The owner a trial's process recorded for this very trial. A retried trial is queued with
    the user attributes of the one it retries, owner included: until its new process records
    itself, that copy names the old (dead) process, and must not read as its owner. Records
    from before the trial number was kept have none and are taken as they are."""
    if not isinstance(owner, dict) or owner.get(_OWNED_TRIAL, number) != number:
        return None
    return owner


def record_invalid(trial: optuna.Trial, reason: str) -> None:
    trial.set_user_attr(_Key.INVALID, reason)


def record_sampled(trial: optuna.Trial, exp: Experiment, stats: Analysis) -> None:
    """What was drawn: the full experiment and its analytic size, before any training."""
    for key, value in {
        _Key.CONFIG: exp.model_dump(mode="json"),
        _Key.PARAMS: stats.params,
        _Key.MACS: stats.macs,
        _Key.RF: stats.rf,
        _Key.EPOCHS: exp.train.epochs,
    }.items():
        trial.set_user_attr(key, value)


def record_infeasible(trial: optuna.Trial, over: str) -> None:
    trial.set_user_attr(_Key.INFEASIBLE, True)
    trial.set_user_attr(_Key.OVER, over)


def mean_curve(curves: list[list[float]]) -> list[float]:
    """The seeds' curves averaged epoch by epoch: a trial's curve."""
    return [sum(c[i] for c in curves) / len(curves) for i in range(len(curves[0]))]


def record_curves(trial: optuna.Trial, curves: list[list[float]]) -> None:
    """Each seed's validation curve so far; the stored curve is their mean (what pruning sees)."""
    trial.set_user_attr(_Key.VAL_CURVE, mean_curve(curves))
    if len(curves) > 1:
        trial.set_user_attr(_Key.VAL_CURVES, [list(c) for c in curves])


def record_rung(trial: optuna.Trial, climbed: list[RungResult]) -> None:
    """The cheaper runs the trial has climbed so far (promotion), each with its score."""
    trial.set_user_attr(_Key.RUNGS, [asdict(r) for r in climbed])


def record_taken_up(trial: optuna.Trial, epochs: list[int]) -> None:
    """Per run so far: the epochs restored from a cut-short run's state (0: all trained here)."""
    trial.set_user_attr(_Key.TAKEN_UP, list(epochs))


def rung_peers(study: optuna.Study, rung: int, exclude: int) -> list[TrialRecord]:
    """The other trials that have a score on this rung: complete, stopped there or later, or
    running on (a failed trial's score lives on in its retry, which is queued with it)."""
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    return [r for r in records(study, states) if len(r.rungs) > rung and r.number != exclude]


def record_drawn(trial: optuna.Trial, drawn: Drawn) -> None:
    """How the sampler drew the trial (evolution's `origin`)."""
    trial.set_user_attr(_Key.DRAWN, asdict(drawn))


def record_teacher(trial: optuna.Trial, identity: dict) -> None:
    trial.set_user_attr(_Key.TEACHER, identity)


def record_seeds(trial: optuna.Trial, seeds: list[int]) -> None:
    trial.set_user_attr(_Key.SEEDS, list(seeds))


def user_attrs(**fields: Any) -> dict[str, Any]:
    """Stored attributes from TrialRecord field names (to build trials by hand, e.g. in tests)."""
    keys = {
        "config": _Key.CONFIG,
        "params": _Key.PARAMS,
        "macs": _Key.MACS,
        "receptive_field": _Key.RF,
        "epochs": _Key.EPOCHS,
        "val_curve": _Key.VAL_CURVE,
        "infeasible": _Key.INFEASIBLE,
        "invalid": _Key.INVALID,
        "owner": _Key.OWNER,
        "val_curves": _Key.VAL_CURVES,
        "seeds": _Key.SEEDS,
        "rungs": _Key.RUNGS,
    }
    return {keys[name]: value for name, value in fields.items()}


@dataclass(frozen=True)
class StudyRecord:
    """What a study states about itself (written when a search opens it)."""

    max_params: int | None
    max_epochs: int | None
    dataset: str | None
    objective: str | None
    target: float | None
    spec: dict | None
    subset: int | None
    confirmed: dict[int, Confirmation]
    data_digest: str | None = None
    classes: tuple[str, ...] = ()

    @classmethod
    def of(cls, study: optuna.Study) -> StudyRecord:
        attrs = study.user_attrs
        confirmed = {int(n): Confirmation(**c) for n, c in (attrs.get(StudyKey.CONFIRMED) or {}).items()}
        return cls(
            attrs.get(StudyKey.MAX_PARAMS),
            attrs.get(StudyKey.MAX_EPOCHS),
            attrs.get(StudyKey.DATASET),
            attrs.get(StudyKey.OBJECTIVE),
            attrs.get(StudyKey.TARGET),
            attrs.get(StudyKey.SPEC),
            attrs.get(StudyKey.SUBSET),
            confirmed,
            attrs.get(StudyKey.DATA_DIGEST),
            tuple(attrs.get(StudyKey.CLASSES) or ()),
        )


@dataclass(frozen=True)
class Confirmation:
    """A trial retrained with fresh seeds on the validation split (export --confirm)."""

    seeds: list[int]
    per_seed: list[float]
    mean: float


def record_confirmation(study: optuna.Study, number: int, confirmation: Confirmation) -> None:
    """Kept on the study (Optuna's public API cannot change a finished trial's attributes)."""
    confirmed = dict(study.user_attrs.get(StudyKey.CONFIRMED) or {})
    confirmed[str(number)] = asdict(confirmation)
    study.set_user_attr(StudyKey.CONFIRMED, confirmed)


def record_study(
    study: optuna.Study,
    spec: Any,
    objective: str,
    subset: int | None,
    data_digest: str | None = None,
    classes: tuple[str, ...] = (),
) -> None:
    for key, value in {
        StudyKey.DATA_DIGEST: data_digest,
        StudyKey.CLASSES: list(classes) or None,
        StudyKey.SPEC: spec.model_dump(mode="json"),
        StudyKey.MAX_PARAMS: spec.budget.max_params,
        StudyKey.MAX_EPOCHS: spec.budget.max_epochs,
        StudyKey.DATASET: spec.dataset,
        StudyKey.OBJECTIVE: objective,
        StudyKey.TARGET: spec.target,
        StudyKey.SUBSET: subset,
    }.items():
        study.set_user_attr(key, value)
