"""Fixtures for every test: tiny synthetic data and a tiny model (no MNIST needed)."""

from __future__ import annotations

import pytest

from models import BatchNorm, Conv, GlobalAvgPool, MaxPool, ModelConfig, ReLU
from search.data import Split
from tests.helpers import synthetic_split


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
