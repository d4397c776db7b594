"""What the terminal shows: the live search feed, retrain tables, layer tables."""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from models import Analysis
from search.api import DeployCard, Kind, RetrainResult, StudyRecord, TrialRecord


def plural(n: int, word: str) -> str:
    """'1 epoch', '2 epochs'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def trial_line(r: TrialRecord, max_params: int | None) -> str:
    size = f"{r.params:>7,} params" if r.params is not None else " " * 14
    if r.kind is Kind.INFEASIBLE:
        # what it broke; trials recorded before that was kept name the study's parameter budget
        why = f": {r.over}" if r.over else f" {max_params:,}" if max_params else ""
        detail = f"over budget{why}" if r.infeasible else "invalid shape"
    elif r.kind is Kind.COMPLETE:
        # per run (a rung's, then the full one's): '6 + 18 taken up'; its seconds are the rest's
        resumed = f", {' + '.join(str(n) for n in r.taken_up if n)} taken up" if any(r.taken_up) else ""
        detail = f"val {r.value:6.2f}%  ({plural(len(r.val_curve), 'epoch')}{resumed})"
    elif r.kind is Kind.PRUNED and r.rungs:  # promotion stops a trial only on a rung
        detail = f"val {r.rungs[-1].score:6.2f}%  stopped on {r.rungs[-1].describe()}"
    elif r.kind is Kind.PRUNED:
        detail = f"val {r.last_val_acc:6.2f}%  stopped after epoch {len(r.val_curve)}" if r.val_curve else "stopped"
    else:
        detail = "failed"
    return f"trial {r.number:>4}  {r.kind.value:<10} {size}  {detail:<38} {r.seconds or 0.0:6.1f}s"


@dataclass
class Feed:
    """A search's `Watcher`: one line per finished trial and, in a terminal, a live footer."""

    console: Console
    max_params: int | None
    footer_on: bool = True
    live: Live | None = None
    counts: dict[Kind, int] = field(
        default_factory=lambda: dict.fromkeys((Kind.COMPLETE, Kind.PRUNED, Kind.INFEASIBLE, Kind.FAIL), 0)
    )
    best: tuple[float, int, int] | None = None  # (val acc, params, trial)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        r = TrialRecord.of(trial)
        self.counts[r.kind] = self.counts.get(r.kind, 0) + 1
        if r.kind is Kind.COMPLETE and (self.best is None or r.score > self.best[0]):
            self.best = (r.score, r.size, r.number)
        self.console.print(Text(trial_line(r, self.max_params)), highlight=False, soft_wrap=True)
        if self.live is not None:
            self.live.update(self.footer())

    def __enter__(self) -> Feed:
        # several processes cannot share one live line: a worker process's feed prints lines only
        if self.footer_on and self.console.is_terminal and mp.parent_process() is None:
            self.live = Live(self.footer(), console=self.console, auto_refresh=False)
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def stopping(self) -> None:
        self.console.print("\nstopping: recording the running trial (Ctrl-C again is ignored)", highlight=False)

    def footer(self) -> Text:
        c = self.counts
        best = (
            f"best val {self.best[0]:.2f}% ({self.best[1]:,} params, trial {self.best[2]})" if self.best else "best: -"
        )
        return Text(
            f"done {c[Kind.COMPLETE]}  pruned {c[Kind.PRUNED]}  infeasible {c[Kind.INFEASIBLE]}  "
            f"failed {c[Kind.FAIL]}  |  {best}",
            style="bold",
        )


def feed(study: optuna.Study, footer: bool = True) -> Feed:
    """The CLI's watcher factory; module-level, so that worker processes can build their own."""
    return Feed(Console(), StudyRecord.of(study).max_params, footer_on=footer)


def layer_table(title: str, result: Analysis) -> Table:
    table = Table(title=Text(title))  # a config's path or name: plain text, never markup
    for col in ("#", "layer", "output", "params", "RF", "jump"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for row in result.rows:
        shape = "x".join(str(d) for d in row.output)
        table.add_row(str(row.index), row.layer, shape, f"{row.params:,}", str(row.rf), str(row.jump))
    table.caption = f"params {result.params:,}  MACs {result.macs:,}  receptive field {result.rf}"
    return table


def retrain_table(result: RetrainResult) -> Table:
    table = Table(title=Text(f"{result.experiment.model.name or 'model'}: {result.params:,} params, test accuracy (%)"))
    for col in ("seed", "final epoch", "min of last 3", "seconds"):
        table.add_column(col, justify="right")
    for run in result.runs:
        table.add_row(str(run.seed), f"{run.final:.2f}", f"{run.last3_min:.2f}", f"{run.history.seconds:.0f}")
    mean, std = result.mean_std
    spread = (
        f"mean {mean:.2f} ± {std:.2f} over {plural(len(result.runs), 'seed')}"
        if len(result.runs) > 1
        else (f"{mean:.2f} (1 seed)")
    )
    table.caption = (
        f"final epoch: {spread}; "
        f"min of last 3 over all seeds {min(r.last3_min for r in result.runs):.2f}; "
        f"wall {sum(r.history.seconds for r in result.runs):.0f}s"
    )
    return table


def deploy_table(card: DeployCard) -> Table:
    table = Table(
        title=Text(f"{card.model}: {card.params:,} params ({card.params_deployed:,} deployed), {card.macs:,} MACs")
    )
    for col in ("file", "bytes", "weight bytes", "test acc (%)", "agrees with PyTorch (%)", "latency (µs, batch 1)"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for checked in (c for c in (card.fp32, card.int8) if c is not None):
        table.add_row(
            Text(checked.path),
            f"{checked.file_bytes:,}",
            f"{checked.weight_bytes:,}",
            f"{checked.test_acc:.2f}",
            f"{checked.agreement:.2f}",
            f"{checked.latency_us:.1f}",
        )
    drop = f"; int8 drop {card.int8_drop:+.2f} points" if card.int8_drop is not None else ""
    table.caption = (
        f"PyTorch test accuracy {card.pytorch_test_acc:.2f}; BatchNorm folded {card.bn_folded}, "
        f"kept {card.bn_kept}; opset {card.onnx['opset']}{drop}; each file stands alone; on a microcontroller "
        f"(int8): {card.weight_bytes:,} bytes of weights and biases, {card.activation_bytes:,} of activations at peak"
    )
    return table
