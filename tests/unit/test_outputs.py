"""Export and report on a small synthetic study."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
import pytest

from search.errors import TinynasError
from search.outputs import experiment_for, pick, retrain_records, write_report
from search.quiet import quiet
from search.study import TrialRecord, complete_records
from search.study.record import user_attrs
from search.training import load_experiment
from tests.helpers import make_spec, run_synthetic


@pytest.fixture(scope="module")
def study_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("study") / "s.db"
    run_synthetic(make_spec(**{"budget.max_params": 300, "target": 60.0}), db, trials=6)
    return db


def load(db: Path) -> optuna.Study:
    return optuna.load_study(study_name="synthetic", storage=f"sqlite:///{db}")


def test_export_rules(study_db: Path) -> None:
    study = load(study_db)
    complete = complete_records(study)
    assert pick(study, "best").value == max(r.value for r in complete)
    smallest = pick(study, "smallest", target=0.0)
    assert smallest.params == min(r.params for r in complete)
    assert pick(study, f"trial={complete[0].number}").number == complete[0].number
    with pytest.raises(TinynasError, match="unknown rule"):
        pick(study, "fastest")
    with pytest.raises(TinynasError, match=r"--target must be a percentage"):
        pick(study, "smallest", target=float("nan"))


def test_an_unmet_target_names_the_best_trial_there_is() -> None:
    study = optuna.create_study()
    for value, params in [(95.0, 900), (97.5, 1200)]:
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs=user_attrs(params=params)))
    with pytest.raises(TinynasError, match=r"reaches 99\.00% .* the best is trial 1: 97\.50% .* 1,200 params"):
        pick(study, "smallest", target=99.0)
    assert pick(study, "smallest", target=96.0).number == 1 and pick(study, "smallest", target=90.0).number == 0


def test_export_uses_the_target_the_spec_states(study_db: Path) -> None:
    study = load(study_db)
    meeting = [r for r in complete_records(study) if r.value >= 60.0]
    assert meeting, "the synthetic task is easy: some trial passes 60%"
    assert pick(study, "smallest").params == min(r.params for r in meeting)


def test_exported_json_is_consumed_by_retrain_unchanged(study_db: Path, tmp_path: Path) -> None:
    study = load(study_db)
    chosen = pick(study, "best")
    path = tmp_path / "best.json"
    path.write_text(experiment_for(study, chosen).to_json())
    exp = load_experiment(str(path))
    assert exp.provenance.study == "synthetic" and exp.provenance.trial == chosen.number
    assert exp.provenance.val_acc == chosen.value and exp.provenance.params == chosen.params
    assert exp.train == chosen.experiment().train and exp.model.layers == chosen.experiment().model.layers


def test_every_study_names_its_metrics_for_the_dashboard(study_db: Path) -> None:
    assert load(study_db).metric_names == ["val_acc"]


def test_report_is_self_contained(study_db: Path, tmp_path: Path) -> None:
    study = load(study_db)
    url = f"sqlite:///{tmp_path / 'results.db'}"
    trial = complete_records(study)[0]
    retrain_records.save(
        url,
        retrain_records.RetrainRecord(
            config_hash="abc",
            study="synthetic",
            trial=trial.number,
            dataset="mnist",
            seed=0,
            params=200,
            macs=1000,
            epochs=3,
            final_acc=99.1,
            last3_min=98.7,
            seconds=1.0,
            device="cpu",
            test_acc_per_epoch=[98.7, 99.0, 99.1],
            config_json="{}",
        ),
    )
    text = write_report(study, url, tmp_path / "report.html").read_text()
    assert "<script src=" not in text and "Plotly.newPlot" in text  # plotly.js is inline: works offline
    for section in (
        "Pareto front",
        "Learning curves",
        "Optimisation history",
        "importances",
        "Parallel coordinates",
        "Slices",
        "Top 15 complete trials",
        "Retrain results",
    ):
        assert section in text
    assert "98.70" in text  # the recorded retrain's last-3 minimum
    assert "val_acc (%)" in text  # the study's metric name, not "Objective 0"
    assert [TrialRecord.of(t).number for t in study.trials] == list(range(len(study.trials)))


def test_the_rule_applies_to_confirmed_means() -> None:
    from search.outputs.export import candidates, pick_confirmed
    from search.study.record import Confirmation, record_confirmation

    study = optuna.create_study()
    for value, params in [(99.6, 4800), (99.5, 3000), (99.45, 2500), (99.0, 1000)]:
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs=user_attrs(params=params)))
    assert [r.number for r in candidates(study, "smallest", 99.4, 2)] == [2, 1]
    assert [r.number for r in candidates(study, "best", 99.4, 3)] == [0, 1, 2]
    for number, mean in [(0, 99.48), (1, 99.31), (2, 99.42)]:
        record_confirmation(study, number, Confirmation(seeds=[1000, 1001], per_seed=[mean, mean], mean=mean))
    from search.study import StudyRecord

    confirmed = StudyRecord.of(study).confirmed
    assert pick_confirmed(study, "best", confirmed).number == 0
    assert pick_confirmed(study, "smallest", confirmed, 99.4).number == 2
    with pytest.raises(
        TinynasError, match=r"none of the 3 confirmed trials holds 99\.50% .* best is trial 0 at 99\.48%"
    ):
        pick_confirmed(study, "smallest", confirmed, 99.5)


def test_a_parameter_cap_picks_one_budget_of_a_front() -> None:
    """`export --max-params N`: the rule looks only at trials of at most N parameters, searched
    or confirmed, so a Pareto study gives its best under 1K, 2K, ... one export each."""
    from search.outputs.export import candidates, pick_confirmed
    from search.study.record import Confirmation

    study = optuna.create_study()
    for value, params in [(99.6, 4800), (99.5, 3000), (99.45, 2500), (99.0, 1000)]:
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs=user_attrs(params=params)))
    assert pick(study, "best", max_params=3000).number == 1
    assert pick(study, "best", max_params=1000).number == 3
    assert [r.number for r in candidates(study, "best", None, 3, max_params=2999)] == [2, 3]
    assert pick(study, "smallest", 99.4, max_params=2999).number == 2
    confirmed = {n: Confirmation(seeds=[1000], per_seed=[m], mean=m) for n, m in [(0, 99.5), (1, 99.2), (2, 99.3)]}
    assert pick_confirmed(study, "best", confirmed).number == 0
    assert pick_confirmed(study, "best", confirmed, max_params=3000).number == 2
    with pytest.raises(TinynasError, match=r"at most 999 parameters; the smallest is trial 3 with 1,000"):
        pick(study, "best", max_params=999)


def test_the_api_silences_optuna_during_a_call_and_restores_it_after() -> None:
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with quiet():
                assert optuna.logging.get_verbosity() == optuna.logging.ERROR
                warnings.warn("inside", optuna.exceptions.ExperimentalWarning, stacklevel=1)
            warnings.warn("after", optuna.exceptions.ExperimentalWarning, stacklevel=1)
        assert [str(w.message) for w in caught] == ["after"]
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_the_report_figures_name_what_they_draw_without_overlap(study_db: Path) -> None:
    """The budget and target labels sit on opposite sides of where their lines cross; the
    Pareto stars are open, so the complete trial under each shows; every learning curve names
    its trial on hover, and the legend has one entry per state."""
    from search.outputs.report import curves_figure, pareto_figure
    from search.study import trials_frame

    frame = trials_frame(load(study_db))
    pareto = pareto_figure(frame, budget=300, target=60.0)
    labels = {a.text.split()[0]: (a.xanchor, a.yanchor) for a in pareto.layout.annotations}
    assert set(labels) == {"target", "budget"} and labels["target"] != labels["budget"]
    front = next(t for t in pareto.data if t.name == "Pareto front")
    assert front.marker.symbol == "star-open"
    curves = curves_figure(frame)
    trained = frame[frame["state"].isin(["COMPLETE", "PRUNED"])].index
    assert [t.hovertemplate.split(" (")[0] for t in curves.data] == [f"trial {n}" for n in trained]
    assert sorted(t.name for t in curves.data if t.showlegend) == sorted({t.name for t in curves.data})


def test_outputs_replace_only_what_tinynas_wrote_unless_forced(study_db: Path, tmp_path: Path) -> None:
    """export, report and retrain write over their own earlier outputs; another program's file
    (or a folder of other things) is one line, unchanged, until --force."""
    from search import api
    from search.outputs.deploy import card_path, is_deployed
    from search.outputs.run_folder import check as check_run_folder

    study = load(study_db)
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}')
    with pytest.raises(TinynasError, match=r"notes\.json exists and is not an exported config tinynas wrote.*--force"):
        api.export(study, rule="best", out=notes)
    assert notes.read_text() == '{"mine": true}'
    api.export(study, rule="best", out=notes, force=True)
    api.export(study, rule="best", out=notes)  # now an export: replaced without asking
    page = tmp_path / "page.html"
    page.write_text("<html>someone's page</html>")
    with pytest.raises(TinynasError, match="is not a report"):
        api.report(study, page)
    api.report(study, page, force=True)
    api.report(study, page)
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(TinynasError, match="is not a run folder"):
        check_run_folder(folder)
    assert check_run_folder(folder, force=True) and not check_run_folder(tmp_path / "new")
    model = tmp_path / "model.onnx"
    model.write_bytes(b"onnx")
    assert not is_deployed(model)  # no card beside it: not deploy's
    card_path(model).write_text('{"model": "m", "onnx": {}, "fp32": {}}')
    assert is_deployed(model) and is_deployed(model.with_name("model.int8.onnx")) and is_deployed(card_path(model))
