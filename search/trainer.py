"""The one training loop, shared by the search and by retrain."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from models import ModelConfig, build
from search.augment import augment
from search.splits import Split
from search.training import TrainConfig

EVAL_BATCH = 2000


@dataclass(frozen=True)
class EpochResult:
    epoch: int
    train_loss: float
    train_acc: float
    eval_loss: float
    eval_acc: float
    lr: float
    seconds: float


@dataclass
class History:
    epochs: list[EpochResult] = field(default_factory=list)

    @property
    def eval_acc(self) -> list[float]:
        return [e.eval_acc for e in self.epochs]

    @property
    def final_acc(self) -> float:
        return self.epochs[-1].eval_acc

    def last_min(self, k: int = 3) -> float:
        return min(self.eval_acc[-k:])

    def last_mean(self, k: int = 2) -> float:
        tail = self.eval_acc[-k:]
        return sum(tail) / len(tail)

    @property
    def seconds(self) -> float:
        return sum(e.seconds for e in self.epochs)

    def as_records(self) -> list[dict[str, float]]:
        return [asdict(e) for e in self.epochs]


class Reporter(Protocol):
    """Progress display; the trainer only tells it what happened."""

    def start_epoch(self, epoch: int, epochs: int, batches: int) -> None: ...
    def batches_done(self, done: int, loss: float, acc: float) -> None: ...
    def end_epoch(self, result: EpochResult, epochs: int) -> None: ...


EpochCallback = Callable[[EpochResult], None]
"""Called after each epoch's evaluation; it may raise (e.g. optuna.TrialPruned) to stop."""


def _optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay
        )
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _scheduler(cfg: TrainConfig, opt: torch.optim.Optimizer, steps_per_epoch: int):
    """Returns (scheduler, steps per batch?): onecycle and cosine step every batch."""
    total = cfg.epochs * steps_per_epoch
    if cfg.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=total, pct_start=cfg.pct_start), True
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total), True
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, cfg.step_size, cfg.gamma), False
    return None, False


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, memory_format: torch.memory_format) -> tuple[float, float]:
    """(mean loss, accuracy in %) over the whole split."""
    model.eval()
    loss, correct = torch.zeros((), device=split.x.device), torch.zeros((), device=split.x.device)
    for start in range(0, len(split), EVAL_BATCH):
        x = split.x[start : start + EVAL_BATCH].contiguous(memory_format=memory_format)
        y = split.y[start : start + EVAL_BATCH]
        logits = model(x)
        loss += F.cross_entropy(logits, y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
    return loss.item() / len(split), 100.0 * correct.item() / len(split)


@dataclass
class _Loop:
    """What one run's epochs share: the model, its optimiser and the seeded generator."""

    cfg: TrainConfig
    split: Split
    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler | None
    sched_per_batch: bool
    gen: torch.Generator
    fmt: torch.memory_format
    background: float

    def epoch(self, reporter: Reporter | None) -> tuple[float, float]:
        """One pass over a fresh permutation; returns (mean loss, accuracy %) on it."""
        cfg, split, n = self.cfg, self.split, len(self.split)
        steps = -(-n // cfg.batch_size)
        self.model.train()
        loss_sum = torch.zeros((), device=split.x.device)
        correct = torch.zeros((), device=split.x.device)
        order = torch.randperm(n, generator=self.gen, device=split.x.device)
        for b in range(steps):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            x = augment(split.x[idx], cfg.augment, self.gen, self.background).contiguous(memory_format=self.fmt)
            y = split.y[idx]
            logits = self.model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            if self.sched is not None and self.sched_per_batch:
                self.sched.step()
            loss_sum += loss.detach() * len(y)  # summed on the device: no sync per batch
            correct += (logits.detach().argmax(1) == y).sum()
            if reporter and (b % 50 == 49 or b == steps - 1):
                seen = min((b + 1) * cfg.batch_size, n)
                reporter.batches_done(b + 1, loss_sum.item() / seen, 100.0 * correct.item() / seen)
        if self.sched is not None and not self.sched_per_batch:
            self.sched.step()
        return loss_sum.item() / n, 100.0 * correct.item() / n


def train(
    model_config: ModelConfig,
    cfg: TrainConfig,
    train_split: Split,
    eval_split: Split,
    *,
    device: torch.device | str = "cpu",
    on_epoch: EpochCallback | None = None,
    reporter: Reporter | None = None,
) -> tuple[nn.Module, History]:
    """Train from scratch with cfg.seed; evaluate on eval_split after every epoch.

    The splits live on the device as whole tensors and batches are seeded permutations of
    them: no per-sample Python on the hot path, and the same seed gives the same run.
    """
    device = torch.device(device)
    torch.manual_seed(cfg.seed)
    # channels_last runs these tiny convs about 1.3x faster on CPU (measured on seed-8k).
    fmt = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    model = build(model_config).to(device=device, memory_format=fmt)
    train_split, eval_split = train_split.to(device), eval_split.to(device)
    opt = _optimizer(cfg, model.parameters())
    sched, per_batch = _scheduler(cfg, opt, -(-len(train_split) // cfg.batch_size))
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    loop = _Loop(cfg, train_split, model, opt, sched, per_batch, gen, fmt, float(train_split.x.min()))
    history = History()
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        if reporter:
            reporter.start_epoch(epoch, cfg.epochs, -(-len(train_split) // cfg.batch_size))
        lr = opt.param_groups[0]["lr"]
        train_loss, train_acc = loop.epoch(reporter)
        eval_loss, eval_acc = evaluate(model, eval_split, fmt)
        result = EpochResult(epoch, train_loss, train_acc, eval_loss, eval_acc, lr, time.perf_counter() - start)
        history.epochs.append(result)
        if reporter:
            reporter.end_epoch(result, cfg.epochs)
        if on_epoch:
            on_epoch(result)
    return model, history
