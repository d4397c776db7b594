"""`tinynas retrain` through the real CLI on a real MNIST subset."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import torch

from models import build, preset
from tests.helpers import run_cli


def test_retrain_writes_outputs_and_records_the_run(tmp_path: Path, mnist_root: Path) -> None:
    db = tmp_path / "results.db"
    result = run_cli(
        "retrain",
        "compact-4k",
        "--seeds",
        "2",
        "--epochs",
        "2",
        "--subset",
        "3000",
        "--out",
        str(tmp_path / "out"),
        "--results",
        f"sqlite:///{db}",
        "--data-dir",
        str(mnist_root),
        "--threads",
        "1",
    )
    assert result.returncode == 0, result.stderr
    assert "epoch  2/2" in result.stdout and "test" in result.stdout and "mean" in result.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["params"] == 4730 and summary["seeds"] == [0, 1] and summary["epochs"] == 2
    rows = (
        sqlite3.connect(db)
        .execute("select seed, params, epochs, final_acc, last3_min, test_acc_per_epoch from tinynas_retrain_runs")
        .fetchall()
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [(0, 4730, 2), (1, 4730, 2)]
    for seed, *_, final, last3, curve in rows:
        per_epoch = json.loads((tmp_path / "out" / f"seed{seed}" / "metrics.json").read_text())
        assert [e["eval_acc"] for e in per_epoch] == json.loads(curve)
        assert final == per_epoch[-1]["eval_acc"] == summary["final_acc"][seed]
        assert last3 == min(e["eval_acc"] for e in per_epoch)
        assert final > 50.0  # it learned something real in 2 epochs on 3,000 images
    checkpoint = torch.load(tmp_path / "out" / "seed1" / "checkpoint.pt", weights_only=False)
    model = build(preset("compact-4k"))
    model.load_state_dict(checkpoint["state_dict"])
    assert checkpoint["experiment"]["train"]["seed"] == 1


def test_retrain_refuses_20_epochs(tmp_path: Path) -> None:
    result = run_cli("retrain", "seed-8k", "--epochs", "20", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "fewer than 20" in result.stderr and "Traceback" not in result.stderr


def test_fused_and_sequential_retrains_agree_within_seed_noise(tmp_path: Path, mnist_root: Path) -> None:
    """compact-4k has dropout, whose masks differ between the two; everything else is the same.
    A one-cycle recipe anneals to zero, so the final epochs are stable enough to compare."""
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps(
            {"model": preset("compact-4k").to_dict(), "train": {"scheduler": "onecycle", "lr": 0.02, "epochs": 3}}
        )
    )
    finals = {}
    for mode in ("fused", "sequential"):
        result = run_cli(
            "retrain",
            str(config),
            "--seeds",
            "2",
            "--subset",
            "10000",
            "--out",
            str(tmp_path / mode),
            "--results",
            f"sqlite:///{tmp_path / 'r.db'}",
            "--data-dir",
            str(mnist_root),
            "--threads",
            "1",
            "--quiet",
            "--fused" if mode == "fused" else "--sequential",
        )
        assert result.returncode == 0, result.stderr
        finals[mode] = json.loads((tmp_path / mode / "summary.json").read_text())["final_acc"]
    for fused, alone in zip(finals["fused"], finals["sequential"], strict=True):
        assert fused > 95 and abs(fused - alone) < 1.0, finals


def test_seeds_spread_over_the_cores_give_the_runs_one_after_another_would(tmp_path: Path, mnist_root: Path) -> None:
    """By default (a CPU) each seed runs in its own worker process on one thread: the same
    arithmetic as the seeds one after another on one thread, so the same numbers, sooner."""
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps({"model": preset("compact-4k").to_dict(), "train": {"epochs": 2, "layout": "contiguous"}})
    )
    summaries = {}
    for mode, flags in {"spread": [], "sequential": ["--sequential", "--threads", "1"]}.items():
        result = run_cli(
            "retrain", str(config), "--seeds", "2", "--subset", "2000", "--out", str(tmp_path / mode),
            "--results", f"sqlite:///{tmp_path / 'r.db'}", "--data-dir", str(mnist_root), "--quiet", *flags,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        summaries[mode] = json.loads((tmp_path / mode / "summary.json").read_text())
    spread, alone = summaries["spread"], summaries["sequential"]
    # the same numbers, and each seed learned (2 epochs of 2,000 images: 47-71% on some CPUs; chance is 10%)
    assert spread["test_acc_per_epoch"] == alone["test_acc_per_epoch"] and min(spread["final_acc"]) > 25
    assert (spread["fused"], spread["layout"]) == (False, "contiguous")
    for seed in spread["seeds"]:  # each seed's checkpoint came back from its worker
        checkpoint = torch.load(tmp_path / "spread" / f"seed{seed}" / "checkpoint.pt", weights_only=False)
        assert checkpoint["experiment"]["train"]["layout"] == "contiguous"


def test_retrain_takes_ema_linear_schedule_and_scale_augmentation(tmp_path: Path, mnist_root: Path) -> None:
    config = tmp_path / "recipe.json"
    config.write_text(
        json.dumps(
            {
                "model": preset("compact-4k").to_dict(),
                "train": {
                    "ema": 0.999,
                    "scheduler": "linear",
                    "rotate": 7.0,
                    "translate": 0.1,
                    "scale": 0.09,
                    "epochs": 2,
                },
            }
        )
    )
    result = run_cli(
        "retrain",
        str(config),
        "--seeds",
        "1",
        "--first-seed",
        "7",
        "--subset",
        "3000",
        "--out",
        str(tmp_path / "out"),
        "--results",
        f"sqlite:///{tmp_path / 'r.db'}",
        "--data-dir",
        str(mnist_root),
        "--threads",
        "1",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    checkpoint = torch.load(tmp_path / "out" / "seed7" / "checkpoint.pt", weights_only=False)
    train = checkpoint["experiment"]["train"]
    assert train["seed"] == 7  # --first-seed: seeds never reported before
    assert (train["ema"], train["scheduler"], train["scale"]) == (0.999, "linear", 0.09)
    assert set(checkpoint["state_dict"]) == set(checkpoint["raw_state_dict"])  # the average, and the raw beside it
    metrics = json.loads((tmp_path / "out" / "seed7" / "metrics.json").read_text())
    assert len(metrics) == 2 and metrics[-1]["eval_acc"] > 50
