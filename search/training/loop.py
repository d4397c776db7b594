"""The one training loop, shared by the search and by retrain."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel

from models import Fused, ModelConfig, build, fuse, unfuse
from search.data.augment import augment
from search.data.splits import Split
from search.training import checkpoint
from search.training.checkpoint import Resumable, run_key
from search.training.device import denormals_flushed
from search.training.distill import Teacher, distill_loss, teacher_input
from search.training.recipe import TrainConfig

CPU_EVAL_IMAGES = 256
"""Images x fused replicas per evaluation batch on a CPU. Larger batches overflow the caches and
pay page faults for fresh buffers: scoring 10,000 images at batch 2,000 took 2.1-2.8x the time
of batch 256 for one model, and 3.1-3.9x that of 85 images per replica for three fused replicas,
on one thread (benchmarks/README.md, "Evaluation batch size")."""
GPU_EVAL_BATCH = 2000
"""Images per evaluation batch on a GPU, where large batches keep the device busy."""
MEMORY_FORMATS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}


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


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on conv and linear weights only, never on BN parameters or biases (as
    nanoGPT's configure_optimizers): decaying a BN scale or a bias only fights the
    normalisation. Tensors of 2+ dimensions are the conv and linear weights."""
    params = [p for p in model.parameters() if p.requires_grad]
    if weight_decay == 0:
        return [{"params": params, "weight_decay": 0.0}]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def ema_decay(decay: float, updates: int) -> float:
    """The decay used at an EMA update after `updates` earlier ones: warmed up as
    (1 + n) / (10 + n) up to `decay`, so a short run's average is not stuck at the initial
    weights (0.999 would otherwise need thousands of steps to forget them)."""
    return min(decay, (1 + updates) / (10 + updates))


def _ema_update(decay: float):
    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], updates: torch.Tensor) -> None:
        d = ema_decay(decay, int(updates))
        for a, c in zip(averaged, current, strict=True):
            if a.is_floating_point():
                a.lerp_(c, 1 - d)
            else:  # BN's batch counter
                a.copy_(c)

    return update


def _optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    groups = param_groups(model, cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=cfg.lr)


def _scheduler(cfg: TrainConfig, opt: torch.optim.Optimizer, steps_per_epoch: int):
    """Returns (scheduler, steps per batch?): onecycle, cosine and linear step every batch."""
    total = cfg.epochs * steps_per_epoch
    if cfg.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=total, pct_start=cfg.pct_start), True
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total), True
    if cfg.scheduler == "linear":
        warm = max(1, round(cfg.pct_start * total))

        def factor(step: int) -> float:  # the lr of step `step` (0-based): up, then down to 0 after the last
            return (step + 1) / warm if step < warm else max(0.0, (total - step) / (total - warm + 1))

        return torch.optim.lr_scheduler.LambdaLR(opt, factor), True
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, cfg.step_size, cfg.gamma), False
    return None, False


def eval_batch(device: torch.device, k: int = 1) -> int:
    """Images per evaluation batch for k fused replicas on this device."""
    return max(1, CPU_EVAL_IMAGES // k) if device.type == "cpu" else GPU_EVAL_BATCH


@torch.no_grad()
def evaluate(
    model: nn.Module, split: Split, memory_format: torch.memory_format, k: int = 1, batch: int | None = None
) -> list[tuple[float, float]]:
    """(mean loss, accuracy in %) over the whole split, per replica (k > 1: a fused model), in
    batches of `batch` images (None: `eval_batch` for the split's device)."""
    model.eval()
    dev = split.x.device
    step = batch or eval_batch(dev, k)
    loss, correct = torch.zeros(k, device=dev), torch.zeros(k, device=dev)
    for start in range(0, len(split), step):
        x = split.x[start : start + step]
        x = (x.repeat(1, k, 1, 1) if k > 1 else x).contiguous(memory_format=memory_format)
        y = split.y[start : start + step]
        logits = model(x).view(len(y), k, -1)
        loss += torch.stack([F.cross_entropy(logits[:, r], y, reduction="sum") for r in range(k)])
        correct += (logits.argmax(2) == y[:, None]).sum(0)
    n = len(split)
    return [(a / n, 100.0 * c / n) for a, c in zip(loss.tolist(), correct.tolist(), strict=True)]


StepCallback = Callable[[int, torch.Tensor, nn.Module], None]
"""Told (step, each replica's training loss, the raw model) after every optimiser step
(diagnostics, tests)."""


@dataclass
class _Loop:
    """What one run's epochs share: the (fused) model, its optimiser, and per replica a
    seeded generator (its own data order and augmentation draws)."""

    cfg: TrainConfig
    split: Split
    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler | None
    sched_per_batch: bool
    gens: list[torch.Generator]
    fmt: torch.memory_format
    background: float
    on_step: StepCallback | None = None
    ema: AveragedModel | None = None
    teacher: nn.Module | None = None
    steps_done: int = 0

    def state_dict(self) -> dict[str, Any]:
        """Everything the next epoch depends on: weights, optimiser, schedule, average, and the
        random streams (each replica's data order and augmentation; dropout's, the global one)."""
        device = self.split.x.device
        return {
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "sched": None if self.sched is None else self.sched.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "gens": [g.get_state() for g in self.gens],
            "rng": torch.get_rng_state(),
            "device_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "steps_done": self.steps_done,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        if self.sched is not None:
            self.sched.load_state_dict(state["sched"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        for g, s in zip(self.gens, state["gens"], strict=True):
            g.set_state(s)
        torch.set_rng_state(state["rng"])
        if state["device_rng"] is not None:
            torch.cuda.set_rng_state(state["device_rng"], self.split.x.device)
        self.steps_done = state["steps_done"]

    def _batch(self, idx: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Replica r's images (its own indices and augmentation draws) in channel block r,
        gathered and laid out channels-last in one copy; labels (N, K)."""
        split, cfg = self.split, self.cfg
        if len(idx) == 1:
            x = augment(split.x[idx[0]], *cfg.affine(), self.gens[0], self.background, cfg.flip)
            return x.contiguous(memory_format=self.fmt), split.y[idx[0]][:, None]
        xs = [
            augment(split.x[i], *cfg.affine(), g, self.background, cfg.flip)
            for i, g in zip(idx, self.gens, strict=True)
        ]
        stacked = torch.stack(xs, dim=1)  # (N, K, C, H, W)
        x = stacked.flatten(1, 2)  # (N, K*C, H, W): replica-major channel blocks, as the grouped convs expect
        return x.contiguous(memory_format=self.fmt), torch.stack([split.y[i] for i in idx], dim=1)

    def epoch(self, reporter: Reporter | None) -> list[tuple[float, float]]:
        """One pass over a fresh permutation per replica; (mean loss, accuracy %) per replica."""
        cfg, split, n, k = self.cfg, self.split, len(self.split), len(self.gens)
        steps = -(-n // cfg.batch_size)
        self.model.train()
        loss_sum = torch.zeros(k, device=split.x.device)
        correct = torch.zeros(k, device=split.x.device)
        orders = [torch.randperm(n, generator=g, device=split.x.device) for g in self.gens]
        for b in range(steps):
            idx = [order[b * cfg.batch_size : (b + 1) * cfg.batch_size] for order in orders]
            x, y = self._batch(idx)
            logits = self.model(x).view(len(y), k, -1)
            if self.teacher is not None and cfg.distill is not None:
                with torch.no_grad():
                    soft = self.teacher(teacher_input(x, k)).view(len(y), k, -1)
                d = cfg.distill
                losses = distill_loss(logits, soft, y, d.alpha, d.temperature, cfg.label_smoothing)
            elif k == 1:
                losses = F.cross_entropy(logits[:, 0], y[:, 0], label_smoothing=cfg.label_smoothing)[None]
            else:  # one call for all replicas: per-sample losses, then each replica's mean
                losses = (
                    F.cross_entropy(
                        logits.flatten(0, 1), y.flatten(), label_smoothing=cfg.label_smoothing, reduction="none"
                    )
                    .view(len(y), k)
                    .mean(0)
                )
            self.opt.zero_grad(set_to_none=True)
            (losses[0] if k == 1 else losses.sum()).backward()  # replica r's weights see only its own loss
            self.opt.step()
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            if self.sched is not None and self.sched_per_batch:
                self.sched.step()
            self.steps_done += 1
            if self.on_step:
                self.on_step(self.steps_done, losses.detach(), self.model)
            loss_sum += losses.detach() * len(y)  # summed on the device: no sync per batch
            correct += (logits.detach().argmax(2) == y).sum(0)
            if reporter and (b % 50 == 49 or b == steps - 1):
                seen = min((b + 1) * cfg.batch_size, n)
                reporter.batches_done(b + 1, loss_sum.mean().item() / seen, 100.0 * correct.mean().item() / seen)
        if self.sched is not None and not self.sched_per_batch:
            self.sched.step()
        return [(a / n, 100.0 * c / n) for a, c in zip(loss_sum.tolist(), correct.tolist(), strict=True)]


def same_recipe(cfgs: list[TrainConfig]) -> TrainConfig:
    """Replicas share everything but the seed; returns the shared recipe."""
    if not cfgs:
        raise ValueError("at least one replica")
    base = cfgs[0].model_copy(update={"seed": 0})
    if any(c.model_copy(update={"seed": 0}) != base for c in cfgs):
        raise ValueError("fused replicas must share their recipe; only the seed may differ")
    if len({c.seed for c in cfgs}) != len(cfgs):
        raise ValueError("fused replicas need distinct seeds")
    return cfgs[0]


def mean_result(results: list[EpochResult]) -> EpochResult:
    """The replicas' epoch averaged (what a progress line shows for a fused run)."""
    fields = ("train_loss", "train_acc", "eval_loss", "eval_acc")
    means = {f: sum(getattr(r, f) for r in results) / len(results) for f in fields}
    return replace(results[0], **means)


@dataclass(frozen=True)
class Trained:
    """What a run of K replicas gives back, per replica (standalone modules)."""

    models: list[nn.Module]
    """The evaluated weights: the EMA models when the recipe has ema > 0, else the raw ones."""
    histories: list[History]
    raw: list[nn.Module]
    """The optimiser's own weights (the same modules as `models` without EMA)."""
    taken_up: int = 0
    """Epochs restored from the saved state of a run cut short, not trained by this call (their
    history keeps the seconds they took when they were trained)."""


@denormals_flushed()  # in whichever process trains: a worker, a benchmark's pool, a notebook
def train_replicas(
    model_config: ModelConfig,
    cfgs: list[TrainConfig],
    train_split: Split,
    eval_split: Split | None,
    *,
    device: torch.device | str = "cpu",
    on_epoch: Callable[[list[EpochResult]], None] | None = None,
    reporter: Reporter | None = None,
    on_step: StepCallback | None = None,
    teacher: Teacher | None = None,
    judged_from: int = 1,
    states: Resumable | None = None,
) -> Trained:
    """Train one replica per recipe (recipes differ only in their seed) as one fused network
    (`models.fuse`); evaluate each on eval_split after every epoch. Replica k starts from the
    weights a standalone run with seed k builds, and draws its data order and augmentation
    from its own generator seeded k, so with dropout 0 it follows the standalone run step by
    step (Adam, AdamW and SGD update elementwise). With cfg.ema, an exponential moving average
    of the weights and BN buffers is what each epoch evaluates and what `Trained.models` holds
    (the raw weights in `Trained.raw`). The splits live on the device whole, batches are seeded
    permutations of them (no per-sample Python on the hot path; the same seeds give the same
    runs). A recipe with `distill` needs its `teacher` (`teachers.teacher_for`), which sees
    every replica's own augmented images. Without an eval_split nothing is evaluated between
    epochs (NaN): for a model judged once, at the end; nor before epoch `judged_from`: for a
    run judged by its last epochs only (a rung). With `states` (`checkpoint.resumable`), the
    run's state is saved after every epoch, and a run cut short resumes from it: the epochs it
    had finished are handed to `on_epoch` again, then it goes on as it would have.
    """
    cfg = _with_teacher(same_recipe(cfgs), teacher)
    saved_at = (
        states.path(run_key(model_config, cfgs, train_split, eval_split, teacher, judged_from)) if states else None
    )
    k, device = len(cfgs), torch.device(device)
    loop = _start(model_config, cfgs, cfg, train_split.to(device), on_step, teacher)
    model, ema, fmt, train_split = loop.model, loop.ema, loop.fmt, loop.split
    eval_split = eval_split.to(device) if eval_split is not None else None
    evaluated_model = ema.module if ema is not None else model
    histories = _taken_up(loop, saved_at, on_epoch)
    taken_up = len(histories[0].epochs)
    for epoch in range(taken_up + 1, cfg.epochs + 1):
        start = time.perf_counter()
        if reporter:
            reporter.start_epoch(epoch, cfg.epochs, -(-len(train_split) // cfg.batch_size))
        lr = loop.opt.param_groups[0]["lr"]
        trained = loop.epoch(reporter)
        evaluated = _judge(evaluated_model, eval_split if epoch >= judged_from else None, fmt, k)
        seconds = (time.perf_counter() - start) / k  # each replica's share: seconds add up to the wall time
        results = [EpochResult(epoch, *t, *e, lr, seconds) for t, e in zip(trained, evaluated, strict=True)]
        for history, result in zip(histories, results, strict=True):
            history.epochs.append(result)
        if saved_at is not None:
            checkpoint.save(saved_at, _state(loop, histories))
        if reporter:
            reporter.end_epoch(mean_result(results), cfg.epochs)
        if on_epoch:
            on_epoch(results)
    raw = _split_up(model_config, model, k)
    return Trained(_split_up(model_config, evaluated_model, k) if ema is not None else raw, histories, raw, taken_up)


def _start(
    model_config: ModelConfig,
    cfgs: list[TrainConfig],
    cfg: TrainConfig,
    train_split: Split,
    on_step: StepCallback | None,
    teacher: Teacher | None,
) -> _Loop:
    """A run's first state: the (fused) replicas in the recipe's layout, on the split's device,
    with their optimiser, schedule, average and generators."""
    device, fmt = train_split.x.device, MEMORY_FORMATS[cfg.layout]  # the layout decides which kernels run
    model = _replicas(model_config, cfgs).to(device=device, memory_format=fmt)  # type: ignore[call-overload]  # torch's stubs omit memory_format
    opt = _optimizer(cfg, model)
    sched, per_batch = _scheduler(cfg, opt, -(-len(train_split) // cfg.batch_size))
    gens = [torch.Generator(device=device).manual_seed(c.seed) for c in cfgs]
    ema = AveragedModel(model, multi_avg_fn=_ema_update(cfg.ema), use_buffers=True) if cfg.ema else None
    distiller = teacher.module.to(device=device, memory_format=fmt).eval() if teacher else None  # type: ignore[call-overload]
    background = float(train_split.x.min())
    return _Loop(cfg, train_split, model, opt, sched, per_batch, gens, fmt, background, on_step, ema, distiller)


def _state(loop: _Loop, histories: list[History]) -> dict[str, Any]:
    """What `_taken_up` restores."""
    return {"format": checkpoint.FORMAT, "loop": loop.state_dict(), "histories": [h.as_records() for h in histories]}


def _taken_up(
    loop: _Loop, saved_at: Path | None, on_epoch: Callable[[list[EpochResult]], None] | None
) -> list[History]:
    """The histories of the epochs a run cut short had finished, its state restored into `loop`
    and each of those epochs handed to `on_epoch` again; empty ones when there is none to take up."""
    saved = None if saved_at is None else checkpoint.load(saved_at)
    if saved is None:
        return [History() for _ in loop.gens]
    loop.load_state_dict(saved["loop"])
    histories = [History([EpochResult(**e) for e in h]) for h in saved["histories"]]
    if on_epoch:
        for epoch in zip(*(h.epochs for h in histories), strict=True):
            on_epoch(list(epoch))
    return histories


def _with_teacher(cfg: TrainConfig, teacher: Teacher | None) -> TrainConfig:
    """The recipe, refused when it distils without its own teacher, or takes one it does not use."""
    if (cfg.distill is None) != (teacher is None) or (teacher and teacher.name != cfg.distill.teacher):  # type: ignore[union-attr]
        raise ValueError("a recipe that distils needs its own teacher, and only such a recipe takes one")
    return cfg


def _judge(net: nn.Module, split: Split | None, fmt: torch.memory_format, k: int) -> list[tuple[float, float]]:
    """Each replica's (loss, accuracy) on the split; NaN without one."""
    return evaluate(net, split, fmt, k) if split is not None else [(math.nan, math.nan)] * k


def _replicas(model_config: ModelConfig, cfgs: list[TrainConfig]) -> nn.Module:
    """One network per recipe, as a standalone run with its seed builds it, fused into one
    (a single replica: the network itself)."""
    replicas: list[nn.Module] = []
    for c in cfgs:
        torch.manual_seed(c.seed)
        replicas.append(build(model_config))
    return replicas[0] if len(replicas) == 1 else fuse(model_config, replicas)


def _split_up(model_config: ModelConfig, net: nn.Module, k: int) -> list[nn.Module]:
    """A fused network of k replicas as k standalone modules."""
    return [net] if k == 1 else [unfuse(model_config, cast(Fused, net), r) for r in range(k)]


def train(
    model_config: ModelConfig,
    cfg: TrainConfig,
    train_split: Split,
    eval_split: Split,
    *,
    device: torch.device | str = "cpu",
    on_epoch: EpochCallback | None = None,
    reporter: Reporter | None = None,
    teacher: Teacher | None = None,
) -> tuple[nn.Module, History]:
    """One run from scratch with cfg.seed: `train_replicas` with a single replica."""
    trained = train_replicas(
        model_config,
        [cfg],
        train_split,
        eval_split,
        device=device,
        reporter=reporter,
        on_epoch=(lambda results: on_epoch(results[0])) if on_epoch else None,
        teacher=teacher,
    )
    return trained.models[0], trained.histories[0]
