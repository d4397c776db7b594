"""End-to-end tests: the real CLI on real MNIST subsets, Chromium, PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from search.limits import DATA_ENV
from tests.helpers import REPO


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The real MNIST; missing data is a loud failure, never a silent skip."""
    root = Path(os.environ.get(DATA_ENV, REPO.parent / "shared" / "data")).resolve()
    if not (root / "MNIST" / "raw").is_dir():
        pytest.fail(f"real MNIST not found under {root}/MNIST/raw; set {DATA_ENV} or provide ../shared/data")
    return root
