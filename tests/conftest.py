"""Shared fixtures: tiny synthetic data for unit tests, the real MNIST for end-to-end ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models import BatchNorm, Conv, GlobalAvgPool, MaxPool, ModelConfig, ReLU
from search.splits import Split

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The real MNIST; missing data is a loud failure, never a silent skip."""
    root = Path(os.environ.get("TINYNAS_DATA", REPO.parent / "shared" / "data"))
    if not (root / "MNIST" / "raw").is_dir():
        pytest.fail(f"real MNIST not found under {root}/MNIST/raw; set TINYNAS_DATA or provide ../shared/data")
    return root


def synthetic_split(n: int, seed: int, size: int = 8) -> Split:
    """Two easy classes: a bright top half or a bright bottom half, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 1, size, size, generator=g) * 0.5
    half = size // 2
    x[y == 0, :, :half] += 1.5
    x[y == 1, :, half:] += 1.5
    return Split(x, y)


@pytest.fixture()
def tiny_data() -> tuple[Split, Split]:
    return synthetic_split(256, seed=1), synthetic_split(128, seed=2)


@pytest.fixture()
def tiny_model() -> ModelConfig:
    return ModelConfig(
        input_shape=(1, 8, 8),
        num_classes=2,
        layers=(Conv(out=4), BatchNorm(), ReLU(), MaxPool(), Conv(out=2, kernel=1, padding=0), GlobalAvgPool()),
    )


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None):
    """The real `tinynas` command in a subprocess, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "search", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
