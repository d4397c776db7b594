"""The user's flow through the real CLI on real MNIST: search, trials, studies, export,
retrain, report."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import REPO, quick_spec, run_cli


def test_search_then_trials_on_real_mnist(tmp_path: Path, mnist_root: Path) -> None:
    url, spec = f"sqlite:///{tmp_path / 'tiny.db'}", str(quick_spec(tmp_path, epochs=4))  # a score of 2 of 4
    common = ["--storage", url, "--data-dir", str(mnist_root), "--threads", "1"]
    result = run_cli("search", spec, "--trials", "3", "--subset", "2000", *common)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("trial ") >= 3 and "best val" in result.stdout

    table = run_cli("trials", "tiny", "--storage", url, "--csv", str(tmp_path / "t.csv"))
    assert table.returncode == 0, table.stderr
    frame = pd.read_csv(tmp_path / "t.csv")
    trained = frame[frame["state"].isin(["COMPLETE", "PRUNED"])]
    assert len(trained) == 3
    assert (frame["params"] <= 5000).all() or (frame.loc[frame["params"] > 5000, "state"] == "INFEASIBLE").all()
    complete = frame[frame["state"] == "COMPLETE"]
    assert not complete.empty
    for _, row in complete.iterrows():  # the score is the mean of the last 2 epochs of the stored curve
        curve = json.loads(row["val_curve"])
        assert row["val_acc"] == pytest.approx(sum(curve[-2:]) / 2) and row["val_acc"] > 50.0, row
    assert {"train.lr", "train.epochs", "arch", "macs", "receptive_field"} <= set(frame.columns)

    resumed = run_cli("search", spec, "--trials", "4", "--subset", "2000", *common)
    assert resumed.returncode == 0, resumed.stderr
    assert "3 finished trials so far" in resumed.stdout
    listing = run_cli("studies", "--storage", url)
    assert listing.returncode == 0 and "tiny" in listing.stdout

    best = tmp_path / "best.json"
    exported = run_cli("export", "tiny", "--storage", url, "--rule", "best", "--out", str(best))
    assert exported.returncode == 0, exported.stderr
    results = f"sqlite:///{tmp_path / 'results.db'}"
    retrained = run_cli(
        "retrain",
        str(best),
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--subset",
        "2000",
        "--results",
        results,
        "--out",
        str(tmp_path / "rt"),
        "--data-dir",
        str(mnist_root),
        "--threads",
        "1",
        "--quiet",
    )
    assert retrained.returncode == 0, retrained.stderr
    summary = (tmp_path / "rt" / "summary.json").read_text()
    page = tmp_path / "report.html"
    reported = run_cli("report", "tiny", "--storage", url, "--results", results, "--out", str(page))
    assert reported.returncode == 0, reported.stderr
    trial = json.loads(best.read_text())["provenance"]["trial"]
    assert f"<td>{trial}</td>" in page.read_text()  # the retrain of the exported trial is in the report
    assert '"params"' in summary


def test_the_quick_study_shows_what_tinynas_is_for(tmp_path: Path, mnist_root: Path) -> None:
    """The README's first run, exactly: the quick study with its own settings, then export
    with no flags (the spec states its own target)."""
    (tmp_path / "studies").mkdir()
    shutil.copy(REPO / "studies" / "tiny.toml", tmp_path / "studies" / "tiny.toml")
    searched = run_cli("search", "studies/tiny.toml", "--data-dir", str(mnist_root), cwd=tmp_path)
    assert searched.returncode == 0, searched.stderr
    exported = run_cli("export", "tiny", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    best = json.loads((tmp_path / "best.json").read_text())["provenance"]
    assert best["val_acc"] >= 97.0, best


def test_seeds_per_trial_then_confirm_then_fused_retrain(tmp_path: Path, mnist_root: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    common = ["--data-dir", str(mnist_root), "--threads", "1"]
    searched = run_cli(
        "search",
        str(quick_spec(tmp_path)),
        "--trials",
        "3",
        "--subset",
        "2000",
        "--seeds-per-trial",
        "2",
        "--storage",
        url,
        *common,
    )
    assert searched.returncode == 0, searched.stderr
    best = tmp_path / "best.json"
    exported = run_cli(
        "export",
        "tiny",
        "--storage",
        url,
        "--rule",
        "best",
        "--confirm",
        "2",
        "--confirm-seeds",
        "2",
        "--out",
        str(best),
        *common,
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.count("confirmed") >= 2
    provenance = json.loads(best.read_text())["provenance"]
    assert provenance["seeds"] == [0, 1] and provenance["confirm_seeds"] == [1000, 1001]
    assert len(provenance["confirmed_per_seed"]) == 2 and 10 < provenance["confirmed_val_acc"] <= 100
    page = tmp_path / "report.html"
    assert run_cli("report", "tiny", "--storage", url, "--out", str(page)).returncode == 0
    assert "Confirmation: searched vs fresh seeds" in page.read_text() and "confirmed mean" in page.read_text()
    retrained = run_cli(
        "retrain",
        str(best),
        "--seeds",
        "2",
        "--epochs",
        "2",
        "--subset",
        "2000",
        "--out",
        str(tmp_path / "rt"),
        "--results",
        f"sqlite:///{tmp_path / 'r.db'}",
        "--quiet",
        "--fused",
        *common,
    )
    assert retrained.returncode == 0, retrained.stderr
    assert "seeds 0, 1 (fused)" in retrained.stdout
    summary = json.loads((tmp_path / "rt" / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and all(30 < a <= 100 for a in summary["final_acc"]), summary["final_acc"]


def test_by_default_a_search_keeps_every_core_busy_and_ends_confirmed(tmp_path: Path, mnist_root: Path) -> None:
    """No --jobs or --threads: one worker per core, one thread each; the workers stop at the
    target together; the spec's [run] confirm retrains the top trials with fresh seeds, and
    export picks by those confirmed means."""
    spec = quick_spec(tmp_path, confirm="{top = 2, seeds = 2}")
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    searched = run_cli("search", str(spec), "--trials", "4", "--subset", "2000", "--storage", url,
                       "--data-dir", str(mnist_root))  # fmt: skip
    assert searched.returncode == 0, searched.stderr
    assert "with 2 workers x 1 thread" in searched.stdout and searched.stdout.count("confirmed ") == 2
    # before the work, it says which trials it confirms and about how long that takes
    assert re.search(
        r"confirming the top 2 of \d+ complete trials \(trial \d+, \d+\) .* about \d+ min", searched.stdout
    )
    # then, from the two worker processes, a line per epoch of each trial it retrains
    tiny_epochs = int(re.search(r"^epochs = (\d+)", spec.read_text(), re.M).group(1))
    progress = re.findall(r"confirming trial +(\d+) +epoch +(\d+)/(\d+)", searched.stdout)
    assert len({t for t, _, _ in progress}) == 2 and len(progress) == 2 * tiny_epochs, searched.stdout
    frame_csv = tmp_path / "t.csv"
    assert run_cli("trials", "tiny", "--storage", url, "--csv", str(frame_csv)).returncode == 0
    frame = pd.read_csv(frame_csv)
    assert frame["state"].isin(["COMPLETE", "PRUNED"]).sum() == 4  # not 5: no worker overshoots
    configs = [json.loads(c)["train"] for c in frame.loc[frame["state"] == "COMPLETE", "config_json"]]
    assert {c["layout"] for c in configs} == {"channels_last"}  # one seed on one thread: the faster layout
    best = tmp_path / "best.json"
    exported = run_cli("export", "tiny", "--storage", url, "--rule", "best", "--out", str(best))
    assert exported.returncode == 0 and "on fresh seeds" in exported.stdout, exported.stderr
    provenance = json.loads(best.read_text())["provenance"]
    assert provenance["confirm_seeds"] == [1000, 1001] and len(provenance["confirmed_per_seed"]) == 2
    again = run_cli("search", str(spec), "--trials", "4", "--storage", url, "--data-dir", str(mnist_root))
    assert again.returncode == 0 and "already holds 4" in again.stdout, again.stderr  # nothing retrained
