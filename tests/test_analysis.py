"""Report, export and dashboard on a small synthetic study."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from search import records
from search.browser import drawn_figures
from search.errors import TinynasError
from search.experiment import load_experiment
from search.export import experiment_for, pick
from search.report import write_report
from tests.conftest import REPO, run_cli
from tests.test_search import make_spec, run


@pytest.fixture(scope="module")
def study_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("study") / "s.db"
    run(make_spec(**{"budget.max_params": 300}), db, trials=6)
    return db


def _study(db: Path):
    import optuna

    return optuna.load_study(study_name="synthetic", storage=f"sqlite:///{db}")


def test_export_rules(study_db: Path) -> None:
    study = _study(study_db)
    complete = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    best = pick(study, "best")
    assert best.values[0] == max(t.values[0] for t in complete)
    smallest = pick(study, "smallest", target=0.0)
    assert smallest.user_attrs["params"] == min(t.user_attrs["params"] for t in complete)
    assert pick(study, f"trial={complete[0].number}").number == complete[0].number
    with pytest.raises(TinynasError, match=r"reaches 100\.50% .* the best is trial \d+"):
        pick(study, "smallest", target=100.5)
    with pytest.raises(TinynasError, match="unknown rule"):
        pick(study, "fastest")


def test_exported_json_is_consumed_by_retrain_unchanged(study_db: Path, tmp_path: Path) -> None:
    study = _study(study_db)
    trial = pick(study, "best")
    path = tmp_path / "best.json"
    path.write_text(experiment_for(study, trial).to_json())
    exp = load_experiment(str(path))
    assert exp.provenance.study == "synthetic" and exp.provenance.trial == trial.number
    assert exp.provenance.val_acc == trial.values[0] and exp.provenance.params == trial.user_attrs["params"]
    assert exp.model.layers == load_experiment(str(path)).model.layers
    assert exp.train.model_dump() == trial.user_attrs["config"]["train"]


def test_export_from_an_empty_study_is_a_clear_error(tmp_path: Path) -> None:
    import optuna

    optuna.create_study(study_name="empty", storage=f"sqlite:///{tmp_path / 'e.db'}")
    result = run_cli("export", "empty", "--storage", f"sqlite:///{tmp_path / 'e.db'}", "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "has no complete trials yet" in result.stderr
    assert not (tmp_path / "x").exists()


def test_report_is_self_contained_and_draws_in_chromium(study_db: Path, tmp_path: Path) -> None:
    study = _study(study_db)
    url = f"sqlite:///{tmp_path / 'results.db'}"
    records.save(url, records.RetrainRecord(
        config_hash="abc", study="synthetic", trial=1, dataset="mnist", seed=0, params=200, macs=1000,
        epochs=3, final_acc=99.1, last3_min=98.7, seconds=1.0, device="cpu", test_acc_per_epoch=[98.7, 99.0, 99.1],
        config_json="{}",
    ))  # fmt: skip
    path = write_report(study, url, tmp_path / "report.html")
    text = path.read_text()
    assert "<script src=" not in text and "Plotly.newPlot" in text  # plotly.js is inline: works offline
    for section in ("Pareto front", "Learning curves", "Optimisation history", "importances", "Parallel coordinates",
                    "Slices", "Top 15 complete trials", "Retrain results"):  # fmt: skip
        assert section in text
    assert "98.70" in text  # the recorded retrain's last-3 minimum
    drawn, total = drawn_figures(path)
    assert total >= 6 and drawn == total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_dashboard_serves_the_study_and_stops_cleanly(study_db: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "search", "dashboard", "synthetic", "--storage", f"sqlite:///{study_db}",
         "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline, studies = time.monotonic() + 60, None
        while studies is None and time.monotonic() < deadline:
            try:
                studies = _get(f"http://127.0.0.1:{port}/api/studies")["study_summaries"]
            except OSError:
                time.sleep(0.3)
        assert studies is not None, "the dashboard never answered"
        (entry,) = [s for s in studies if s["study_name"] == "synthetic"]
        detail = _get(f"http://127.0.0.1:{port}/api/studies/{entry['study_id']}?after=0")
        assert len(detail["trials"]) == len(_study(study_db).trials)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}/dashboard/studies/" in out and "Traceback" not in err


def test_dashboard_on_a_busy_port_is_a_clear_error(study_db: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("dashboard", "synthetic", "--storage", f"sqlite:///{study_db}", "--port", str(port))
    assert result.returncode == 2 and "choose another --port" in result.stderr and "Traceback" not in result.stderr
