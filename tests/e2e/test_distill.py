"""Distillation and parameter-cheap convolutions through the real CLI: a search that distils
from a teacher into separable or grouped stages, its export, a retrain, a deploy."""

from __future__ import annotations

import json
from pathlib import Path

import optuna

from tests.helpers import quick_spec, run_cli


def test_a_distilled_separable_search_exports_retrains_and_deploys(tmp_path: Path, mnist_root: Path) -> None:
    spec = quick_spec(tmp_path, "d.toml")  # 2 epochs
    text = spec.read_text().replace('name = "tiny"', 'name = "distilled"')
    text = text.replace("dropout = 0.0", 'dropout = 0.0\nkind = ["separable", "grouped"]')
    spec.write_text(text.replace("\n\n[sampler]", '\nteacher = "seed-8k"\n\n[sampler]'))
    db = f"sqlite:///{tmp_path / 'd.db'}"
    env = {"TINYNAS_CACHE": str(tmp_path / "cache")}
    data = ("--data-dir", str(mnist_root))
    common = ("--storage", db, *data, "--threads", "1")
    searched = run_cli("search", str(spec), "--trials", "2", "--subset", "1000", *common, env=env)
    assert searched.returncode == 0, searched.stderr
    trials = optuna.load_study(study_name="distilled", storage=db).get_trials()
    teachers = [t.user_attrs["teacher"] for t in trials if t.state.name == "COMPLETE"]
    assert teachers and all(t == teachers[0] for t in teachers)  # trained once, on the search's 1,000 images
    assert teachers[0]["name"] == "seed-8k" and teachers[0]["params"] == 8070 and 50 < teachers[0]["acc"] <= 100
    cached = list((tmp_path / "cache" / "teachers").glob("seed-8k-*.pt"))
    assert len(cached) == 1

    best = tmp_path / "best.json"
    exported = run_cli("export", "distilled", "--storage", db, "--rule", "best", "--out", str(best))
    assert exported.returncode == 0, exported.stderr
    exp = json.loads(best.read_text())
    assert exp["train"]["distill"]["teacher"] == "seed-8k" and exp["provenance"]["teacher"] == teachers[0]
    assert any(layer.get("groups", 1) > 1 for layer in exp["model"]["layers"])

    run = tmp_path / "run"
    retrained = run_cli(
        "retrain", str(best), "--subset", "1000", "--epochs", "1", "--out", str(run), "--quiet", "--sequential",
        "--results", f"sqlite:///{tmp_path / 'r.db'}", *data, "--threads", "1", env=env,
    )  # fmt: skip
    assert retrained.returncode == 0, retrained.stderr
    summary = json.loads((run / "summary.json").read_text())
    # the retrain's teacher saw the retrain's own training images (not the search's): a second teacher
    assert summary["teacher"]["name"] == "seed-8k" and summary["teacher"]["images"] != teachers[0]["images"]
    assert len(list((tmp_path / "cache" / "teachers").glob("seed-8k-*.pt"))) == 2

    out = tmp_path / "m.onnx"
    deployed = run_cli("deploy", str(run / f"seed{summary['seeds'][0]}" / "checkpoint.pt"), "--out", str(out), *data)
    assert deployed.returncode == 0, deployed.stderr
    card = json.loads((tmp_path / "m.card.json").read_text())
    assert card["fp32"]["agreement"] >= 99.9  # the grouped and depthwise convs export exactly
