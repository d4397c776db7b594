"""The named presets as a table: size, cost, what each is, and its test accuracy where a
retrain of it is recorded."""

from __future__ import annotations

import json
import statistics

import pandas as pd

from models import PRESETS, analyse
from search.outputs.retrain_records import load

COLUMNS = ["preset", "params", "macs", "test_acc", "about"]


def _same_model(row: dict, layers: list, shape: list) -> bool:
    model = json.loads(row["config_json"]).get("model", {})
    return model.get("layers") == layers and list(model.get("input_shape", [])) == shape


def _accuracy(rows: list[dict]) -> str:
    """Final-epoch test accuracy over the seeds of the longest schedule recorded."""
    if not rows:
        return ""
    epochs = max(r["epochs"] for r in rows)
    finals = [r["final_acc"] for r in rows if r["epochs"] == epochs]
    spread = f" ± {statistics.stdev(finals):.2f}" if len(finals) > 1 else ""
    return f"{statistics.mean(finals):.2f}{spread} ({len(finals)} seed{'s' * (len(finals) > 1)}, {epochs} epochs)"


def presets_frame(results: str) -> pd.DataFrame:
    """One row per preset; `test_acc` from the retrains recorded in `results` of the same
    layers (empty where none is)."""
    runs = load(results)
    out = []
    for name, make in PRESETS.items():
        model = make()
        dumped = model.model_dump(mode="json")
        stats = analyse(model)
        matching = [r for r in runs if _same_model(r, dumped["layers"], dumped["input_shape"])]
        about = " ".join((make.build.__doc__ or "").split("\n\n")[0].split()).split(": ")[0].split(". ")[0]
        out.append([name, stats.params, stats.macs, _accuracy(matching), about])
    return pd.DataFrame(out, columns=COLUMNS)
