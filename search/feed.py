"""What a running search shows: one line per finished trial and a live footer."""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.live import Live
from rich.text import Text


def trial_kind(t: FrozenTrial) -> str:
    if t.user_attrs.get("infeasible") or t.user_attrs.get("invalid"):
        return "INFEASIBLE"
    return t.state.name


def trial_line(t: FrozenTrial, max_params: int) -> str:
    kind, params = trial_kind(t), t.user_attrs.get("params")
    size = f"{params:>7,} params" if params is not None else " " * 14
    curve = t.user_attrs.get("val_curve", [])
    seconds = t.duration.total_seconds() if t.duration else 0.0
    if kind == "INFEASIBLE":
        detail = f"over budget {max_params:,}" if t.user_attrs.get("infeasible") else "invalid shape"
    elif kind == "COMPLETE":
        detail = f"val {t.values[0]:6.2f}%  ({len(curve)} epochs)"
    elif kind == "PRUNED":
        detail = f"val {curve[-1]:6.2f}%  stopped after epoch {len(curve)}" if curve else "stopped"
    else:
        detail = "failed"
    return f"trial {t.number:>4}  {kind:<10} {size}  {detail:<38} {seconds:6.1f}s"


@dataclass
class Feed:
    """An Optuna callback: prints each trial as it finishes and keeps a footer current."""

    console: Console
    max_params: int
    live: Live | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"COMPLETE": 0, "PRUNED": 0, "INFEASIBLE": 0, "FAIL": 0})
    best: tuple[float, int, int] | None = None  # (val acc, params, trial)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        kind = trial_kind(trial)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if trial.state == TrialState.COMPLETE and (self.best is None or trial.values[0] > self.best[0]):
            self.best = (trial.values[0], trial.user_attrs["params"], trial.number)
        self.console.print(trial_line(trial, self.max_params), highlight=False, soft_wrap=True)
        if self.live is not None:
            self.live.update(self.footer())

    def footer(self) -> Text:
        c = self.counts
        best = (
            f"best val {self.best[0]:.2f}% ({self.best[1]:,} params, trial {self.best[2]})" if self.best else "best: -"
        )
        return Text(
            f"done {c['COMPLETE']}  pruned {c['PRUNED']}  infeasible {c['INFEASIBLE']}  failed {c['FAIL']}  |  {best}",
            style="bold",
        )
