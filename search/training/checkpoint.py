"""A run's state after every epoch, kept so that a run cut short (Ctrl-C, a search's deadline,
a killed process) resumes from its last finished epoch instead of its first.

A saved state is found by what the run is: the model, every replica's recipe (seeds included),
the images it trains on and is judged on, its teacher, and the epoch its judging starts at.
So the same run started again takes it up (the same command resumed, a trial's configuration
queued again after a stop, a confirmation or a benchmark run again), and no other run can.
The states live in the cache folder (`runs`, beside the teachers); a unit of work that ends
in any way but an interruption removes the states it made (`resumable`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from models import ModelConfig
from search.data.splits import Split
from search.training.cache import cache_folder, keep, writable
from search.training.distill import Teacher
from search.training.recipe import TrainConfig

RUNS = "runs"
"""The cache's subfolder of saved run states."""

FORMAT = 1
"""The layout of a saved state; part of its key, so a state of another layout is never read."""


def run_key(
    model: ModelConfig,
    cfgs: list[TrainConfig],
    train: Split,
    judged_on: Split | None,
    teacher: Teacher | None,
    judged_from: int,
) -> str:
    """What identifies a run: everything that decides what it computes, and the PyTorch that
    saves its state (32 hex digits)."""
    blob = json.dumps(
        {
            "format": FORMAT,
            "torch": torch.__version__,  # another release may lay out an optimiser's state otherwise
            "model": model.to_dict(),
            "recipes": [c.model_dump(mode="json") for c in cfgs],
            "train": train.digest,
            "judged_on": None if judged_on is None else judged_on.digest,
            "teacher": None if teacher is None else teacher.identity(),
            "judged_from": judged_from,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass
class Resumable:
    """Where a unit of work (a trial, a confirmation, a benchmark's run) keeps its runs' states."""

    folder: Path
    used: set[Path] = field(default_factory=set)

    def path(self, key: str) -> Path:
        path = self.folder / f"{key}.pt"
        self.used.add(path)
        return path

    def discard(self) -> None:
        for path in self.used:
            path.unlink(missing_ok=True)
        self.used.clear()


def states_folder() -> Path:
    """The cache's folder of run states, created; one line saying how to move it when it cannot be."""
    return writable(cache_folder(RUNS), "run-state cache")


@contextmanager
def resumable(folder: Path | None = None) -> Iterator[Resumable]:
    """Run states for the work inside the block (`$TINYNAS_CACHE/runs` unless `folder`). They
    are kept when the block is interrupted (KeyboardInterrupt, SystemExit, a deadline: the
    BaseExceptions that are not Exceptions), so the same work resumes; removed when it ends in
    any other way (done, pruned, failed), since nothing will take them up."""
    runs = Resumable(writable(folder, "run-state cache") if folder else states_folder())
    try:
        yield runs
    except Exception:
        runs.discard()
        raise
    runs.discard()


def save(path: Path, state: dict[str, Any]) -> None:
    """Written whole or not at all (`cache.keep`). A state that cannot be written (a full disk)
    is skipped: the run goes on, it only resumes less far."""
    with suppress(OSError):
        keep(state, path)


def load(path: Path) -> dict[str, Any] | None:
    """The state saved at `path`; None when there is none or it cannot be read (the run starts
    from its first epoch)."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a foreign or damaged file
        return None
    return state if isinstance(state, dict) and state.get("format") == FORMAT else None
