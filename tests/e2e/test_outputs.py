"""Report in a real browser, optuna-dashboard over HTTP, export through the CLI."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from search.outputs import write_report
from search.outputs.browser import check_figures
from search.study.record import record_study
from tests.helpers import REPO, make_spec, run_cli, run_synthetic


@pytest.fixture(scope="module")
def study_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("study") / "s.db"
    run_synthetic(make_spec(**{"budget.max_params": 300}), db, trials=6)
    return db


def test_report_draws_every_figure_in_chromium(study_db: Path, tmp_path: Path) -> None:
    study = optuna.load_study(study_name="synthetic", storage=f"sqlite:///{study_db}")
    path = write_report(study, f"sqlite:///{tmp_path / 'results.db'}", tmp_path / "report.html")
    check = check_figures(path)
    assert check.total >= 6 and check.drawn == check.total
    assert check.silent == [] and check.outside == []  # every legend entry draws; no point off the axes
    page = path.read_text()
    assert "8x3s = one 3x3 conv applied 3 times" in page  # the arch notation is explained under the table


def test_the_figure_check_catches_what_it_should(tmp_path: Path) -> None:
    """A one-point line in a legend, a point off the axes and a figure that never draws."""
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    fig = go.Figure(
        [
            go.Scatter(x=[1], y=[2], mode="lines", name="lonely", showlegend=True),
            go.Scatter(x=[1, 2, 3], y=[1, 2, 50], mode="markers", name="far"),
        ]
    )
    fig.update_yaxes(range=[0, 10])
    body = fig.to_html(full_html=False, include_plotlyjs=False) + '<div class="plotly-graph-div"></div>'
    page = tmp_path / "p.html"
    page.write_text(f"<html><head><script>{get_plotlyjs()}</script></head><body>{body}</body></html>")
    check = check_figures(page)
    assert (check.drawn, check.total, check.silent, check.outside) == (1, 2, ["lonely"], ["far"])


def test_export_from_an_empty_study_is_a_clear_error(tmp_path: Path) -> None:
    empty = optuna.create_study(study_name="empty", storage=f"sqlite:///{tmp_path / 'e.db'}")
    record_study(empty, make_spec(name="empty"), "accuracy", None)
    result = run_cli("export", "empty", "--storage", f"sqlite:///{tmp_path / 'e.db'}", "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "has no complete trials yet" in result.stderr
    assert not (tmp_path / "x").exists()


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
        [
            sys.executable,
            "-m",
            "search",
            "dashboard",
            "synthetic",
            "--storage",
            f"sqlite:///{study_db}",
            "--port",
            str(port),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
        assert len(detail["trials"]) == len(
            optuna.load_study(study_name="synthetic", storage=f"sqlite:///{study_db}").trials
        )
        assert detail.get("objective_names") == ["val_acc"]  # not "Objective 0"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}/dashboard/studies/" in out and "Traceback" not in err
