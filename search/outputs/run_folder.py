"""A retrain's run folder: the experiment, per seed a checkpoint and per-epoch metrics
(CSV and JSON), and a summary; and each seed's record in the results database."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import torch

from models import analyse
from search.errors import TinynasError, check_replaceable, make_user_folder, write_user_file
from search.outputs import retrain_records
from search.training import Experiment, RetrainResult, SeedRun

EXPERIMENT_FILE = "experiment.json"


def is_run_folder(path: Path) -> bool:
    """Whether `path` is a folder a retrain may write into: empty, or a run folder tinynas wrote."""
    return path.is_dir() and (not any(path.iterdir()) or (path / EXPERIMENT_FILE).is_file())


def check(folder: Path, force: bool = False) -> bool:
    """Before any training: whether the run folder exists already (refused when it is not one)."""
    if folder.is_file():
        raise TinynasError(f"cannot use {folder} as the output folder: a file of that name exists")
    return check_replaceable(folder, "a run folder", is_run_folder, force)


def start(folder: Path, exp: Experiment) -> None:
    make_user_folder(folder, "output folder")
    write_user_file(folder / EXPERIMENT_FILE, exp.to_json(), "experiment")


def save_seed(folder: Path, exp: Experiment, run: SeedRun, results_url: str, device: str) -> None:
    """Written as soon as a seed ends, so a long retrain that dies keeps what it finished."""
    seed_dir = make_user_folder(folder / f"seed{run.seed}", "seed folder")
    config = exp.model_copy(update={"train": run.config})
    try:
        checkpoint = {"state_dict": run.model.state_dict(), "experiment": config.model_dump(mode="json")}
        if run.raw is not run.model:  # EMA: the average is the model, the raw weights beside it
            checkpoint["raw_state_dict"] = run.raw.state_dict()
        torch.save(checkpoint, seed_dir / "checkpoint.pt")
    except OSError as exc:
        raise TinynasError(f"cannot write {seed_dir / 'checkpoint.pt'}: {exc.strerror}") from None
    rows = run.history.as_records()
    write_user_file(seed_dir / "metrics.json", json.dumps(rows, indent=2), "metrics")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_user_file(seed_dir / "metrics.csv", buffer.getvalue(), "metrics")
    stats = analyse(exp.model)
    retrain_records.save(
        results_url,
        retrain_records.RetrainRecord(
            config_hash=exp.config_hash(),
            study=exp.provenance.study,
            trial=exp.provenance.trial,
            dataset=exp.dataset,
            seed=run.seed,
            params=stats.params,
            macs=stats.macs,
            epochs=run.config.epochs,
            final_acc=run.final,
            last3_min=run.last3_min,
            seconds=run.history.seconds,
            device=device,
            test_acc_per_epoch=run.history.eval_acc,
            config_json=exp.to_json(),
        ),
    )


def finish(folder: Path, result: RetrainResult) -> None:
    mean, std = result.mean_std
    runs = result.runs
    write_user_file(
        folder / "summary.json",
        json.dumps(
            {
                "config_hash": result.experiment.config_hash(),
                "params": result.params,
                "macs": result.macs,
                "epochs": len(runs[0].history.epochs),
                "seeds": [r.seed for r in runs],
                "final_acc": [r.final for r in runs],
                "final_acc_mean": mean,
                "final_acc_std": std,
                "last3_min": [r.last3_min for r in runs],
                "seconds": [r.history.seconds for r in runs],
                "fused": result.fused,
                "layout": runs[0].config.layout,
                "teacher": result.teacher,
                "test_acc_per_epoch": {str(r.seed): r.history.eval_acc for r in runs},
                "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            indent=2,
        ),
        "summary",
    )
