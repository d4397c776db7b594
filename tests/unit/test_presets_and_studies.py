"""`tinynas presets` lists every preset with its size and, where a retrain is recorded, its
test accuracy; bare `tinynas studies` lists the studies of every studies/*.db."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from models import PRESETS, analyse, preset
from search.cli.commands import app
from search.outputs.presets_table import presets_frame
from search.outputs.retrain_records import RetrainRecord, save
from tests.helpers import make_spec, run_synthetic


def _record(url: str, name: str, seed: int, final: float, epochs: int = 19) -> None:
    model = preset(name)
    stats = analyse(model)
    save(url, RetrainRecord(config_hash="h" * 32, study=None, trial=None, dataset="mnist", seed=seed,
                            params=stats.params, macs=stats.macs, epochs=epochs, final_acc=final, last3_min=final,
                            seconds=1.0, device="cpu", test_acc_per_epoch=[final],
                            config_json=json.dumps({"model": model.model_dump(mode="json")})))  # fmt: skip


def test_every_preset_is_listed_with_how_it_was_found_and_the_accuracy_of_its_longest_retrains(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    for seed, final in enumerate([99.0, 99.2, 99.4]):
        _record(url, "sub5k-t0", seed, final)
    _record(url, "sub5k-t0", 9, 90.0, epochs=5)  # a shorter schedule does not count
    frame = presets_frame(url).set_index("preset")
    assert list(frame.index) == list(PRESETS)
    assert frame.loc["sub5k-t0", "test_acc"] == "99.20 ± 0.20 (3 seeds, 19 epochs)"
    assert frame.loc["seed-8k", "test_acc"] == ""  # nothing recorded
    assert frame.loc["seed-8k", "params"] == 8070
    assert frame.loc["sub5k-t0", "about"].startswith("Built by hand")  # how each was found, from its docstring
    assert frame.loc["sub5k-t91", "about"].startswith("Found from a cold start")


def test_bare_studies_lists_every_study_database_in_studies(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "studies").mkdir()
    run_synthetic(make_spec(name="alpha"), tmp_path / "studies" / "alpha.db", trials=2)
    run_synthetic(make_spec(name="beta"), tmp_path / "studies" / "beta.db", trials=2)
    _record(f"sqlite:///{tmp_path / 'studies' / 'retrains.db'}", "seed-8k", 0, 99.0)  # not a study database
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TINYNAS_STORAGE", raising=False)
    shown = CliRunner().invoke(app, ["studies"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "alpha" in shown.output and "beta" in shown.output and "studies/alpha.db" in shown.output


def test_the_front_script_reads_a_pareto_studys_front_and_its_best_under_each_budget(tmp_path: Path) -> None:
    rows = [  # number, state, val_acc, params
        (0, "COMPLETE", 97.0, 900),
        (1, "COMPLETE", 96.0, 950),  # beaten by trial 0: cheaper and better
        (2, "PRUNED", 99.9, 800),  # a rung score: never on the front
        (3, "COMPLETE", 98.5, 1900),
        (4, "COMPLETE", 98.0, 1500),
        (5, "COMPLETE", 98.9, 2100),
    ]
    csv = tmp_path / "trials.csv"
    csv.write_text("number,state,val_acc,params\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    script = Path(__file__).resolve().parents[2] / "studies" / "front.py"
    out = subprocess.run(
        [sys.executable, str(script), str(csv), "--budgets", "1000", "2000", "--after", "3"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.startswith("6 trials: 5 complete, 1 pruned")
    assert "| params | **900** | 1,500 | **1,900** | 2,100 |" in out
    assert "| trial | 0 | 4 | 3 | 5 |" in out
    assert "| 3 | 97.00 | 98.50 |" in out and "| 5 | 97.00 | 98.50 |" in out
