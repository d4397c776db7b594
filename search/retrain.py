"""`tinynas retrain`: train a config on all training images, judge it on the test set."""

from __future__ import annotations

import csv
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from models import analyse
from search import records
from search.datasets import dataset_info
from search.experiment import Experiment
from search.progress import EpochBars
from search.splits import retrain_splits
from search.trainer import History, train
from search.training import TrainConfig


@dataclass(frozen=True)
class RetrainOptions:
    seeds: int
    out: Path
    data_root: Path
    results_url: str
    epochs: int | None = None
    device: str = "cpu"
    subset: int | None = None
    quiet: bool = False


@dataclass(frozen=True)
class SeedRun:
    seed: int
    history: History

    @property
    def final(self) -> float:
        return self.history.final_acc

    @property
    def last3_min(self) -> float:
        return self.history.last_min(3)


def seed_config(exp: Experiment, index: int, epochs: int | None) -> TrainConfig:
    """Seed i of a retrain is the recipe's seed + i; validation re-runs on the override."""
    data = exp.train.model_dump() | {"seed": exp.train.seed + index}
    if epochs is not None:
        data["epochs"] = epochs
    return TrainConfig.model_validate(data)


def retrain(exp: Experiment, opts: RetrainOptions, console: Console) -> list[SeedRun]:
    info = dataset_info(exp.dataset)
    train_split, test_split = retrain_splits(info, opts.data_root, opts.subset)
    stats = analyse(exp.model)
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "experiment.json").write_text(exp.to_json())
    runs = []
    for i in range(opts.seeds):
        cfg = seed_config(exp, i, opts.epochs)
        console.print(f"[bold]seed {cfg.seed}[/]: {stats.params:,} params, {cfg.epochs} epochs on {len(train_split):,} "
                      f"training images, testing on {len(test_split):,} after every epoch", highlight=False)  # fmt: skip
        reporter = None if opts.quiet else EpochBars(console, eval_name="test")
        model, history = train(exp.model, cfg, train_split, test_split, device=opts.device, reporter=reporter)
        run = SeedRun(cfg.seed, history)
        _write_seed(opts.out / f"seed{cfg.seed}", exp, cfg, model, history)
        records.save(opts.results_url, _record(exp, cfg, run, stats.params, stats.macs, opts.device))
        runs.append(run)
    console.print(summary_table(exp, runs, stats.params))
    _write_summary(opts.out / "summary.json", exp, runs, stats.params, stats.macs)
    return runs


def _write_seed(folder: Path, exp: Experiment, cfg: TrainConfig, model: torch.nn.Module, history: History) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    config = exp.model_copy(update={"train": cfg})
    torch.save({"state_dict": model.state_dict(), "experiment": config.model_dump(mode="json")},
               folder / "checkpoint.pt")  # fmt: skip
    rows = history.as_records()
    (folder / "metrics.json").write_text(json.dumps(rows, indent=2))
    with (folder / "metrics.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _record(exp: Experiment, cfg: TrainConfig, run: SeedRun, params: int, macs: int, device: str):
    return records.RetrainRecord(
        config_hash=exp.config_hash(), study=exp.provenance.study, trial=exp.provenance.trial,
        dataset=exp.dataset, seed=cfg.seed, params=params, macs=macs, epochs=cfg.epochs,
        final_acc=run.final, last3_min=run.last3_min, seconds=run.history.seconds, device=device,
        test_acc_per_epoch=run.history.eval_acc, config_json=exp.to_json(),
    )  # fmt: skip


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summary_table(exp: Experiment, runs: list[SeedRun], params: int) -> Table:
    table = Table(title=f"{exp.model.name or 'model'}: {params:,} params, test accuracy (%)")
    for col in ("seed", "final epoch", "min of last 3", "seconds"):
        table.add_column(col, justify="right")
    for run in runs:
        table.add_row(str(run.seed), f"{run.final:.2f}", f"{run.last3_min:.2f}", f"{run.history.seconds:.0f}")
    mean, std = mean_std([r.final for r in runs])
    table.caption = (
        f"final epoch: mean {mean:.2f} ± {std:.2f} over {len(runs)} seed(s); "
        f"min of last 3 over all seeds {min(r.last3_min for r in runs):.2f}; "
        f"wall {sum(r.history.seconds for r in runs):.0f}s"
    )
    return table


def _write_summary(path: Path, exp: Experiment, runs: list[SeedRun], params: int, macs: int) -> None:
    mean, std = mean_std([r.final for r in runs])
    path.write_text(json.dumps({
        "config_hash": exp.config_hash(), "params": params, "macs": macs,
        "epochs": len(runs[0].history.epochs), "seeds": [r.seed for r in runs],
        "final_acc": [r.final for r in runs], "final_acc_mean": mean, "final_acc_std": std,
        "last3_min": [r.last3_min for r in runs], "seconds": [r.history.seconds for r in runs],
        "test_acc_per_epoch": {str(r.seed): r.history.eval_acc for r in runs},
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, indent=2))  # fmt: skip
