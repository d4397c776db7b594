"""Fixtures for every test: tiny synthetic data and a tiny model (no MNIST needed); one
PyTorch thread per test process when pytest-xdist runs several; a cache folder of the run's own;
the stop signals as they were before each test."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
import torch

from models import BatchNorm, Conv, GlobalAvgPool, MaxPool, ModelConfig, ReLU
from search.data import Split
from search.limits import CACHE_ENV
from search.study.interrupt import stop_signals_restored
from tests.helpers import synthetic_split


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist the test processes share the cores: each computes on one thread, as
    tinynas's own workers do (more would oversubscribe them). A suite run in one process, like
    the thread-sensitive tests `make test` runs last, keeps PyTorch's default."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)
    # Trained teachers and the states of runs cut short go to a cache of the test run's own (the
    # CLIs the end-to-end tests start inherit it), never the user's; a test may set its own.
    if CACHE_ENV not in os.environ:
        _OWN_CACHE.append(tempfile.mkdtemp(prefix="tinynas-test-cache-"))
        os.environ[CACHE_ENV] = _OWN_CACHE[0]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_CACHE:
        shutil.rmtree(_OWN_CACHE[0], ignore_errors=True)


_OWN_CACHE: list[str] = []


@pytest.fixture(autouse=True)
def _stop_signals_as_they_were() -> Iterator[None]:
    """A search stopped in this process leaves the stop signals ignored while it winds down; a
    process started by a later test would inherit them ignored (a shell cannot even trap a
    signal ignored on entry) and never stop. Each test gets them back as they were."""
    with stop_signals_restored():
        yield


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
