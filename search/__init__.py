"""tinynas: search for tiny CNNs under hard budgets (the harness).

Layers, each importing only the ones before it:
data -> training -> study -> outputs -> api / cli.
The public face is the Python API below (see `search.api`); submodules are loaded on
first use, so `import search` stays cheap for the CLI.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from search.version import __version__

_API = {
    "load_spec": "search.api", "search": "search.api", "load_study": "search.api", "trials": "search.api",
    "export": "search.api", "report": "search.api", "retrain": "search.api", "deploy": "search.api",
    "worker": "search.api", "studies": "search.api", "summary": "search.api", "presets": "search.api",
    "fetch_data": "search.api", "dashboard": "search.api", "SearchFeed": "search.api", "ConfirmFeed": "search.api",
    "StudySpec": "search.study", "SearchFlags": "search.study", "Experiment": "search.training", "RetrainResult": "search.training",
    "TinynasError": "search.errors",
}  # fmt: skip

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'search' has no attribute {name!r}")
