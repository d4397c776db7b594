"""Studies and their trials as pandas tables: what `trials`, `studies`, report and export read."""

from __future__ import annotations

import json

import optuna
import pandas as pd

from models import ModelConfig, arch_string
from search.feed import trial_kind


def trial_row(t: optuna.trial.FrozenTrial) -> dict:
    config = t.user_attrs.get("config") or {}
    curve = t.user_attrs.get("val_curve", [])
    row = {
        "number": t.number,
        "state": trial_kind(t),
        "val_acc": t.values[0] if t.values else None,
        "params": t.user_attrs.get("params"),
        "macs": t.user_attrs.get("macs"),
        "receptive_field": t.user_attrs.get("receptive_field"),
        "epochs": t.user_attrs.get("epochs"),
        "epochs_run": len(curve),
        "last_val_acc": curve[-1] if curve else None,
        "seconds": t.duration.total_seconds() if t.duration else None,
        "arch": arch_string(ModelConfig.model_validate(config["model"])) if config else None,
    }
    row |= {f"train.{k}": v for k, v in (config.get("train") or {}).items()}
    row |= {f"param.{k}": v for k, v in t.params.items()}
    row |= {"val_curve": json.dumps(curve), "config_json": json.dumps(config) if config else None}
    return row


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial, the sampled parameters and the training config flattened."""
    frame = pd.DataFrame([trial_row(t) for t in study.get_trials(deepcopy=False)])
    return frame.set_index("number") if not frame.empty else frame


def studies_frame(storage: optuna.storages.BaseStorage) -> pd.DataFrame:
    rows = []
    for summary in storage.get_all_studies():
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        trials = trials_frame(study)
        states = trials["state"].value_counts() if not trials.empty else pd.Series(dtype=int)
        complete = trials[trials["state"] == "COMPLETE"] if not trials.empty else trials
        best = complete.loc[complete["val_acc"].idxmax()] if not complete.empty else None
        rows.append({
            "study": summary.study_name,
            "trials": len(trials),
            **{s.lower(): int(states.get(s, 0)) for s in ("COMPLETE", "PRUNED", "INFEASIBLE", "FAIL", "RUNNING")},
            "best_val_acc": None if best is None else best["val_acc"],
            "best_params": None if best is None else best["params"],
            "max_params": study.user_attrs.get("max_params"),
        })  # fmt: skip
    return pd.DataFrame(rows)
