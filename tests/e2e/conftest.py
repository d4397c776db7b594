"""End-to-end tests: the real CLI on real MNIST subsets, Chromium, PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from search.data import dataset_info
from search.limits import DATA_ENV, DEFAULT_DATA_DIR
from tests.helpers import REPO


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The real MNIST where the CLI looks for it ($TINYNAS_DATA, else ./data), else a shared
    folder beside the checkout (../shared/data); missing data is a loud failure, never a skip."""
    candidates = [Path(os.environ[DATA_ENV])] if os.environ.get(DATA_ENV) else []
    candidates += [REPO / DEFAULT_DATA_DIR, REPO.parent / "shared" / "data"]
    for root in candidates:
        if dataset_info("mnist").present(root):
            return root.resolve()
    pytest.fail(
        f"real MNIST not found under {' or '.join(str(c) for c in candidates)}: run `tinynas data fetch "
        f"mnist` (into ./data) or set {DATA_ENV}"
    )
