"""`tinynas search` then `tinynas trials` / `studies` through the real CLI on real MNIST."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.e2e


def test_search_then_trials_on_real_mnist(tmp_path: Path, mnist_root: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    common = ["--storage", url, "--data-dir", str(mnist_root), "--threads", "2"]
    result = run_cli("search", "studies/tiny.toml", "--trials", "3", "--subset", "2000", *common)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("trial ") >= 3 and "best val" in result.stdout

    table = run_cli("trials", "tiny", "--storage", url, "--csv", str(tmp_path / "t.csv"))
    assert table.returncode == 0, table.stderr
    frame = pd.read_csv(tmp_path / "t.csv")
    trained = frame[frame["state"].isin(["COMPLETE", "PRUNED"])]
    assert len(trained) == 3
    assert (frame["params"] <= 5000).all() or (frame.loc[frame["params"] > 5000, "state"] == "INFEASIBLE").all()
    complete = frame[frame["state"] == "COMPLETE"]
    assert not complete.empty and complete["val_acc"].between(10, 100).all()
    assert {"train.lr", "train.epochs", "arch", "macs", "receptive_field"} <= set(frame.columns)

    resumed = run_cli("search", "studies/tiny.toml", "--trials", "4", "--subset", "2000", *common)
    assert resumed.returncode == 0, resumed.stderr
    assert "3 finished trials so far" in resumed.stdout
    listing = run_cli("studies", "--storage", url)
    assert listing.returncode == 0 and "tiny" in listing.stdout
