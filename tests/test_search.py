"""The search on tiny synthetic data: budgets held, trials stored, studies resumed, pruning."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from rich.console import Console

from search.datasets import DatasetInfo
from search.errors import TinynasError
from search.experiment import Experiment
from search.objective import SearchContext
from search.pruning import dominated
from search.runner import SearchOptions, check_space, finished, open_study, optimize
from search.spec import StudySpec
from search.trials import trials_frame
from tests.conftest import synthetic_split

SYNTHETIC = DatasetInfo(name="mnist", directory="-", mirror="", files={}, mean=0.0, std=1.0, classes=2, shape=(1, 8, 8))


def make_spec(name: str = "synthetic", **overrides) -> StudySpec:
    base = {
        "name": name,
        "budget": {"max_params": 1000, "max_epochs": 3},
        "space": {
            "model": {"stages": 2, "convs_per_stage": 1, "channels": {"low": 2, "high": 8, "step": 2},
                      "tail_convs": {"low": 0, "high": 1}, "head": ["gap", "conv1x1"],
                      "transition_channels": {"low": 2, "high": 4}},
            "train": {"optimizer": "adam", "lr": 0.02, "batch_size": 32, "scheduler": "none", "epochs": 3},
        },
        "sampler": {"kind": "random"},
        "pruner": {"kind": "none"},
    }  # fmt: skip
    for key, value in overrides.items():
        target = base
        *path, last = key.split(".")
        for part in path:
            target = target.setdefault(part, {})
        target[last] = value
    return StudySpec.model_validate(base)


def run(spec: StudySpec, db: Path, trials: int) -> optuna.Study:
    opts = SearchOptions(storage=f"sqlite:///{db}", trials=trials, data_root=db.parent, footer=False)
    ctx = SearchContext(spec, SYNTHETIC, synthetic_split(192, 1), synthetic_split(96, 2))
    study = open_study(spec, opts)
    optimize(study, ctx, opts, Console(quiet=True))
    return study


def test_study_completes_then_resumes_adding_trials(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    study = run(make_spec(), db, trials=3)
    first = trials_frame(study)
    assert finished(study) == 3 and set(first["state"]) <= {"COMPLETE", "INFEASIBLE"}
    again = run(make_spec(), db, trials=5)
    second = trials_frame(again)
    assert finished(again) == 5
    shared = second.loc[first.index, ["val_acc", "params", "config_json"]]
    assert shared.equals(first[["val_acc", "params", "config_json"]])  # earlier trials unchanged
    complete = again.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    for t in complete:  # every trial maps to exactly what retrain consumes
        exp = Experiment.model_validate(t.user_attrs["config"])
        assert t.user_attrs["params"] <= 1000 and exp.train.epochs == 3
        assert len(t.user_attrs["val_curve"]) == 3 and t.user_attrs["macs"] > 0


def test_over_budget_configs_are_recorded_infeasible_without_training(tmp_path: Path) -> None:
    spec = make_spec(**{"budget.max_params": 160})
    study = run(spec, tmp_path / "s.db", trials=4)
    trials = study.get_trials()
    infeasible = [t for t in trials if t.user_attrs.get("infeasible")]
    assert infeasible, "the seeded random sampler should draw some configs over 160 params"
    for t in infeasible:
        assert t.state == optuna.trial.TrialState.PRUNED
        assert t.user_attrs["params"] > 160 and t.constraints == {"params": t.user_attrs["params"] - 160}
        assert "val_curve" not in t.user_attrs and t.duration.total_seconds() < 1.0
    for t in trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert t.user_attrs["params"] <= 160 and t.constraints["params"] <= 0


def test_pruner_stops_hopeless_trials(tmp_path: Path) -> None:
    spec = make_spec(**{
        "space.train.lr": [0.05, 0.000001], "space.train.epochs": 3,
        "pruner": {"kind": "median", "min_epochs": 1, "startup_trials": 1},
    })  # fmt: skip
    study = run(spec, tmp_path / "s.db", trials=8)
    pruned = [t for t in study.get_trials() if t.state.name == "PRUNED" and not t.user_attrs.get("infeasible")]
    assert pruned, "a learning rate of 1e-6 should be stopped against trials that learn"
    for t in pruned:
        assert len(t.user_attrs["val_curve"]) < 3
        assert t.params["lr"] == 0.000001


def test_multi_objective_study_gives_accuracy_and_params(tmp_path: Path) -> None:
    study = run(make_spec(objectives="accuracy+params"), tmp_path / "s.db", trials=3)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        assert t.values[1] == t.user_attrs["params"]
    assert study.best_trials


def _finished(params: int, curve: list[float]) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        values=[curve[-1], params], user_attrs={"params": params, "val_curve": curve},
        distributions={}, params={},
    )  # fmt: skip


def test_dominated_rule_compares_with_no_bigger_peers() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    for params, curve in [(1000, [90, 95]), (1200, [91, 96]), (1500, [92, 97]), (9000, [99, 99])]:
        study.add_trial(_finished(params, curve))
    assert dominated(study, 1, params=2000, acc=89.0)  # below the median of 3 no-bigger peers
    assert not dominated(study, 1, params=2000, acc=93.0)
    assert not dominated(study, 1, params=1200, acc=50.0)  # only 2 peers are no bigger: not enough evidence


def test_a_space_whose_smallest_model_is_over_budget_is_refused() -> None:
    spec = make_spec(**{"budget.max_params": 50})
    with pytest.raises(TinynasError, match=r"smallest model of this space has \d+ parameters, over budget"):
        check_space(spec)


def test_a_study_with_other_objectives_is_not_mixed(tmp_path: Path) -> None:
    run(make_spec(), tmp_path / "s.db", trials=1)
    with pytest.raises(TinynasError, match=r"already exists .* with other objectives"):
        run(make_spec(objectives="accuracy+params"), tmp_path / "s.db", trials=2)
