"""Shared test helpers: synthetic data and studies for unit tests, the real CLI for e2e ones."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import optuna
import torch

from search.data import DatasetInfo, Split
from search.study import SearchOptions, StudySpec, open_study, optimize
from search.study.objective import SearchContext
from search.training import Resources

REPO = Path(__file__).resolve().parents[1]

SYNTHETIC = DatasetInfo(
    name="mnist", directory="-", mirror="", files={}, mean=(0.0,), std=(1.0,), classes=2, shape=(1, 8, 8)
)
"""An 8x8, two-class stand-in for MNIST's geometry, so searches run in seconds."""


def synthetic_split(n: int, seed: int, size: int = 8) -> Split:
    """Two easy classes: a bright top half or a bright bottom half, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 1, size, size, generator=g) * 0.5
    half = size // 2
    x[y == 0, :, :half] += 1.5
    x[y == 1, :, half:] += 1.5
    return Split(x, y)


def write_npz(path: Path, n: int = 60, shape: tuple[int, ...] = (8, 8), classes: int = 3, **override) -> Path:
    """A user's own images as a .npz of random uint8 pixels (`override` replaces or adds arrays)."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % classes
    x = (rng.random((n, *shape)) * 255).astype(np.uint8)
    arrays = {"x_train": x, "y_train": y, "x_test": x[: n // 3], "y_test": y[: n // 3]} | override
    np.savez(path, **arrays)
    return path


def make_spec(name: str = "synthetic", **overrides) -> StudySpec:
    """A small valid spec over the synthetic data; dotted keys override (e.g. "budget.max_params")."""
    base = {
        "name": name,
        "budget": {"max_params": 1000, "max_epochs": 3},
        "space": {
            "model": {"sizing": "channels", "stages": 2, "convs_per_stage": 1, "channels": {"low": 2, "high": 8, "step": 2},
                      "tail_convs": {"low": 0, "high": 1}, "head": ["gap", "conv1x1"],
                      "transition_channels": {"low": 2, "high": 4}},
            "train": {"optimizer": "adam", "lr": 0.02, "batch_size": 32, "scheduler": "none", "epochs": 3},
        },
        "sampler": {"kind": "random"},
        "pruner": {"kind": "none"},
    }  # fmt: skip
    for key, value in overrides.items():
        target = base
        *path, last = key.split(".")
        for part in path:
            target = target.setdefault(part, {})
        target[last] = value
    return StudySpec.model_validate(base)


def run_synthetic(
    spec: StudySpec,
    db: Path,
    trials: int,
    threads: int | None = None,
    info: DatasetInfo = SYNTHETIC,
    splits: tuple[Split, Split] | None = None,
) -> optuna.Study:
    """A whole search on synthetic data (or the given splits) into a SQLite file, in-process and
    silent; `threads` is what the run tells the objective it has (the layout follows it)."""
    opts = SearchOptions(storage=f"sqlite:///{db}", trials=trials, data_root=db.parent)
    splits = splits or (synthetic_split(192, 1), synthetic_split(96, 2))
    ctx = SearchContext(spec, info, *splits, Resources(threads=threads), spec.run.seeds_per_trial)
    study = open_study(spec, opts)
    optimize(study, ctx, opts)
    return study


QUICK_VAL_SIZE, QUICK_EPOCHS = 2000, 2
"""The quick study as the end-to-end tests run it, on subsets of 600-3,000 training images: a
2,000-image validation split (with the spec's 10,000, evaluating each epoch would cost more
than training it) and 2 epochs (its 4 reach 97% on 20,000 images; these tests check what the
tool does with trials, not how well they learn)."""


def quick_spec(
    folder: Path, name: str = "spec.toml", epochs: int = QUICK_EPOCHS, unpruned: bool = False, **run: object
) -> Path:
    """`studies/tiny.toml` written to `folder` with `epochs`, without its pruner if `unpruned`, and
    its [run] table's `val_size` and any `run` settings replaced (values written as TOML: strings
    quoted by the caller)."""
    settings = {"val_size": QUICK_VAL_SIZE, **run}
    text = (REPO / "studies" / "tiny.toml").read_text()
    text = re.sub(r"^(max_)?epochs = \d+$", rf"\g<1>epochs = {epochs}", text, flags=re.M)
    if unpruned:
        text = text.replace('kind = "median"', 'kind = "none"')
    lines = [line for line in text.splitlines() if line.split(" = ")[0] not in settings]
    text = "\n".join(lines).replace("[run]", "[run]\n" + "\n".join(f"{k} = {v}" for k, v in settings.items()))
    path = folder / name
    path.write_text(text + "\n")
    return path


CLI_ENV = {"COLUMNS": "200"}
"""What every test command sees besides the test's environment: a wide terminal for tables."""


class _WarmCli:
    """One `tests/cli_server.py` per test session (started on first use)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def _server(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "tests" / "cli_server.py")],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, **CLI_ENV, "PYTHONPATH": str(REPO)},
            )
        return self.proc

    def run(self, args: list[str], cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
        with self.lock, tempfile.TemporaryDirectory() as folder:
            out, err = Path(folder) / "out", Path(folder) / "err"
            server = self._server()
            request = {"args": args, "cwd": str(cwd), "env": env, "out": str(out), "err": str(err)}
            server.stdin.write(json.dumps(request) + "\n")
            server.stdin.flush()
            pid = json.loads(server.stdout.readline())["pid"]
            timer = threading.Timer(timeout, lambda: os.kill(pid, signal.SIGKILL))
            timer.start()
            try:
                rc = json.loads(server.stdout.readline())["rc"]
            finally:
                timer.cancel()
            if rc == -signal.SIGKILL:
                raise subprocess.TimeoutExpired(args, timeout)
            return subprocess.CompletedProcess(args, rc, out.read_text(), err.read_text())


_WARM = _WarmCli()


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None):
    """The real `tinynas` command in its own process, as a user would run it: exit code,
    stdout and stderr as `python -m search ARGS` gives them (forked from a warm server that
    has imported the CLI once: `tests/cli_server.py`)."""
    return _WARM.run(list(args), cwd or REPO, {**os.environ, **CLI_ENV, **(env or {})}, timeout)


def note_pid_then_exit(job: tuple[str, int]) -> None:
    """A worker job for `in_processes`: writes its process id to a file, then exits with a code."""
    path, code = job
    Path(path).write_text(str(os.getpid()))
    sys.exit(code)


def tell_twice(job: int) -> int:
    """A worker job for `in_workers` that sends news of itself before it answers."""
    from search.training.parallel import tell

    tell((job, "started"))
    tell((job, "ending"))
    return job * 10
