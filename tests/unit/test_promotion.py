"""Promotion: each configuration climbs cheaper runs (a share of the images, a shorter
schedule) and goes on to its full run only while it is among the best there."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState
from pydantic import ValidationError

from search.cli.display import trial_line
from search.outputs.report import curves_figure
from search.study import TrialRecord, trials_frame
from search.study.pruning import promoted
from search.study.record import Kind, user_attrs
from search.study.samplers import EvolutionSampler
from tests.helpers import make_spec, run_synthetic

RUNG = {"images": 0.5, "epochs": 3}


_PROMOTION = {"kind": "promotion", "rungs": [RUNG], "reduction_factor": 2}


def _promotion(**overrides):
    return make_spec(**{"pruner": _PROMOTION, **overrides})


def _on_rung(score: float, params: int = 500) -> optuna.trial.FrozenTrial:
    rung = {"images": 0.2, "epochs": 3, "score": score, "curve": [score]}
    return optuna.trial.create_trial(
        values=[score, params], user_attrs=user_attrs(params=params, rungs=[rung]), distributions={}, params={}
    )


def test_a_trial_climbs_only_while_it_is_in_the_best_share_of_its_rung() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    for score in (90.0, 95.0, 97.0):
        study.add_trial(_on_rung(score))
    # 4 scores on the rung with this one, eta 3: only the best one climbs
    assert promoted(study, 99, 0, 98.0, 3, None) and not promoted(study, 99, 0, 96.0, 3, None)
    # eta 2: the best 2 of 4 climb
    assert promoted(study, 99, 0, 96.0, 2, None) and not promoted(study, 99, 0, 94.0, 2, None)
    # the first trial on a rung always climbs: nobody waits for the rung to fill
    assert promoted(optuna.create_study(), 0, 0, 10.0, 3, None)
    # a Pareto study: only peers that cost no more count (none costs <= 400 here)
    assert promoted(study, 99, 0, 50.0, 3, ("params", 400)) and not promoted(study, 99, 0, 50.0, 3, ("params", 500))
    assert promoted(study, 99, 1, 10.0, 3, None)  # nobody on rung 1 yet: it climbs


def test_a_pareto_trial_meets_the_peers_of_about_its_cost_when_a_floor_is_set() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    for score, params in ((90.0, 200), (91.0, 250), (89.0, 300), (92.0, 350), (88.0, 400), (90.0, 450)):
        study.add_trial(_on_rung(score, params))
    for score, params in ((97.0, 900), (98.0, 950)):
        study.add_trial(_on_rung(score, params))
    # every cheaper trial: it beats the six small ones and climbs, though the two of its size beat it
    assert promoted(study, 99, 0, 95.0, 3, ("params", 1000))
    # from half its cost: its peers are the two of its size, both ahead
    assert not promoted(study, 99, 0, 95.0, 3, ("params", 1000), peer_floor=0.5)
    assert promoted(study, 99, 0, 99.0, 3, ("params", 1000), peer_floor=0.5)
    # a small trial has no peer of its size yet: it climbs
    assert promoted(study, 99, 0, 50.0, 3, ("params", 150), peer_floor=0.5)


@pytest.mark.parametrize(
    "change",
    [
        {"objectives": "accuracy+params", "pruner": {"kind": "hyperband", "peer_floor": 0.5}},
        {"pruner": {**_PROMOTION, "peer_floor": 0.5}},  # a single-objective study
    ],
)
def test_a_peer_floor_outside_a_pareto_promotion_is_refused(change: dict) -> None:
    with pytest.raises(ValidationError, match="peer_floor compares the trials of a Pareto study"):
        make_spec(**change)
    make_spec(**{**change, "objectives": "accuracy+params", "pruner": {**_PROMOTION, "peer_floor": 0.5}})


def test_a_promotion_search_screens_on_the_rung_and_trains_the_promoted_in_full(tmp_path: Path) -> None:
    spec = _promotion(**{"space.train.lr": [0.05, 0.000001]})
    study = run_synthetic(spec, tmp_path / "p.db", trials=8)
    trained = [r for r in map(TrialRecord.of, study.get_trials()) if r.trained]
    stopped = [r for r in trained if r.kind is Kind.PRUNED]
    complete = [r for r in trained if r.kind is Kind.COMPLETE]
    assert stopped and complete, "with eta 2, some trials stop on the rung and some climb"
    for r in trained:  # every trained trial ran the rung: half the images, 3 epochs, scored
        assert [(g.images, g.epochs, len(g.curve)) for g in r.rungs] == [(0.5, 3, 3)]
        first, *scored = r.rungs[0].curve  # evaluated only on the 2 epochs its score reads
        assert first != first and all(acc == acc for acc in scored)
    for r in stopped:  # stopped on the rung: no full run
        assert len(r.val_curve) == 3 and "stopped on 50% of the images, 3 epochs" in trial_line(r, 1000)
    for r in complete:  # the full run: every epoch evaluated (its learning curve)
        assert len(r.val_curve) == 3 and all(acc == acc for acc in r.val_curve) and r.value is not None
    for t in study.get_trials(states=(TrialState.PRUNED, TrialState.COMPLETE)):
        if TrialRecord.of(t).rungs:  # samplers see the rung's score at step 1
            assert t.intermediate_values == {1: TrialRecord.of(t).rungs[0].score}
    frame = trials_frame(study)
    assert frame["rung_scores"].notna().sum() == len(trained)
    low, high = curves_figure(frame[frame["state"] == "PRUNED"]).layout.yaxis.range  # curves that begin with NaN
    assert low == low and high == high, "the curves' axis is drawn around the epochs that were evaluated"


def test_a_pareto_study_can_promote(tmp_path: Path) -> None:
    spec = _promotion(objectives="accuracy+params")
    study = run_synthetic(spec, tmp_path / "p.db", trials=5)
    trained = [r for r in map(TrialRecord.of, study.get_trials()) if r.trained]
    assert trained and all(len(r.rungs) == 1 for r in trained)
    assert any(r.kind is Kind.COMPLETE for r in trained)


def test_rungs_must_climb_and_stay_within_the_budget() -> None:
    ok = _promotion(
        **{"pruner.rungs": [{"images": 0.2, "epochs": 1}, {"images": 0.2, "epochs": 2}, {"images": 1.0, "epochs": 2}]}
    )
    assert len(ok.pruner.ladder) == 3
    assert make_spec().pruner.ladder == ()  # other pruners climb nothing
    with pytest.raises(ValidationError, match='by kind = "promotion" only'):
        make_spec(pruner={"kind": "hyperband", "rungs": [RUNG]})
    hyperband = make_spec(pruner={"kind": "hyperband"})  # a stored spec (defaults written out) reads back
    assert type(hyperband).model_validate(hyperband.model_dump(mode="json")) == hyperband
    for rungs, words in [
        ([{"images": 0.5}, {"images": 0.2}], "must climb"),
        ([{"images": 0.2}, {"images": 0.5, "epochs": 1}], "must climb"),
        ([{"images": 0.2, "epochs": 2}, {"images": 0.2, "epochs": 2}], "must climb"),
        ([{"images": 1.0}], "full run itself"),
        ([{"images": 0.5, "epochs": 9}], "over budget.max_epochs"),
        ([{"images": 0.0}], "greater than 0"),
    ]:
        with pytest.raises(ValidationError, match=words):
            _promotion(**{"pruner.rungs": rungs})


def test_in_a_tournament_a_complete_trial_beats_one_stopped_early_with_a_higher_number() -> None:
    study = optuna.create_study(direction="maximize")
    dist = {"x": FloatDistribution(0, 1)}
    study.add_trial(optuna.trial.create_trial(params={"x": 0.1}, distributions=dist, value=97.0))
    for x, step in ((0.2, 1), (0.3, 10)):  # a higher score, but on a cheaper run / an earlier epoch
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": x}, distributions=dist, state=TrialState.PRUNED, intermediate_values={step: 99.0}
            )
        )
    sampler = EvolutionSampler(population=3, tournament=3, startup=2, seed=0)
    assert sampler.parent(study, sampler.members(study)).number == 0
    sampler = EvolutionSampler(population=2, tournament=2, startup=2, seed=0)  # the two stopped ones
    assert sampler.parent(study, sampler.members(study)).number == 2  # stopped later wins
