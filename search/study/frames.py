"""Studies and their trials as pandas tables: what `trials`, `studies`, report and export read.
pandas is imported where a table is made: a search's worker processes never make one, and
each would pay its import (most of a second) for nothing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import optuna

from models import ModelConfig, analyse, arch_string
from search.study.record import Kind, StudyRecord, TrialRecord, records

if TYPE_CHECKING:
    import pandas as pd


def trial_row(r: TrialRecord) -> dict:
    config = r.config or {}
    model = ModelConfig.model_validate(config["model"]) if config else None
    stats = analyse(model) if model else None  # the device figures, from the config (as for studies before them)
    row = {
        "number": r.number,
        "state": r.kind.value,
        "val_acc": r.value,
        "params": r.params,
        "macs": r.macs,
        "weight_bytes": stats.weight_bytes if stats else None,
        "activation_bytes": stats.activation_bytes if stats else None,
        "receptive_field": r.receptive_field,
        "epochs": r.epochs,
        "epochs_run": len(r.val_curve),
        "last_val_acc": r.last_val_acc,
        "seconds": r.seconds,
        "epochs_taken_up": sum(r.taken_up) if r.taken_up else None,
        "arch": arch_string(model) if model else None,
        "over_budget": r.over,
        "rung_scores": json.dumps([rung.score for rung in r.rungs]) if r.rungs else None,
        "drawn": r.drawn.how if r.drawn else None,
        "parent": r.drawn.parent if r.drawn else None,
    }
    row |= {f"train.{k}": v for k, v in (config.get("train") or {}).items()}
    row |= {f"param.{k}": v for k, v in r.sampled.items()}
    row |= {"val_curve": json.dumps(list(r.val_curve)), "config_json": json.dumps(config) if config else None}
    return row


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial, the sampled parameters and the training config flattened."""
    import pandas as pd

    frame = pd.DataFrame([trial_row(r) for r in records(study)])
    return frame.set_index("number") if not frame.empty else frame


def pareto_front(frame: pd.DataFrame) -> pd.DataFrame:
    """The complete trials of a trials table (`trials_frame`, or its CSV read back) that no other
    beats: none with as few parameters scores higher, none with fewer scores as high. Cheapest
    first: the best validation accuracy reached with at most each one's parameters."""
    complete = frame[frame["state"] == Kind.COMPLETE.value].sort_values(["params", "val_acc"], ascending=[True, False])
    return complete[complete["val_acc"] > complete["val_acc"].cummax().shift(fill_value=-1.0)]


def studies_frame(storage: optuna.storages.BaseStorage) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for name in optuna.get_all_study_names(storage):
        study = optuna.load_study(study_name=name, storage=storage)
        trials = trials_frame(study)
        states = trials["state"].value_counts() if not trials.empty else pd.Series(dtype=int)
        complete = trials[trials["state"] == Kind.COMPLETE.value] if not trials.empty else trials
        best = complete.loc[complete["val_acc"].idxmax()] if not complete.empty else None
        rows.append(
            {
                "study": name,
                "trials": len(trials),
                **{
                    k.value.lower(): int(states.get(k.value, 0))
                    for k in (Kind.COMPLETE, Kind.PRUNED, Kind.INFEASIBLE, Kind.FAIL, Kind.RUNNING)
                },
                "best_val_acc": None if best is None else best["val_acc"],
                "best_params": None if best is None else best["params"],
                "max_params": StudyRecord.of(study).max_params,
            }
        )
    return pd.DataFrame(rows)
