"""The folder where tinynas keeps what it can make again but would rather not: trained
distillation teachers, and the saved state of runs cut short. Anything in it may be deleted."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from search.errors import TinynasError, make_user_folder
from search.limits import CACHE_ENV

CACHE_FIX = f"set {CACHE_ENV} to a writable folder"
"""What a message about an unusable cache tells the user to do."""


def cache_folder(kind: str) -> Path:
    """`$TINYNAS_CACHE/<kind>`, else `<kind>` in the user's cache folder (e.g. ~/.cache/tinynas)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser() / kind
    import pooch

    return Path(pooch.os_cache("tinynas")) / kind


def writable(folder: Path, what: str) -> Path:
    """`folder`, created, or one line saying what is wrong and how to move the cache."""
    try:
        make_user_folder(folder, what)
    except TinynasError as exc:
        raise TinynasError(f"{exc}; {CACHE_FIX}") from None
    if not os.access(folder, os.W_OK):
        raise TinynasError(f"cannot write the {what} {folder}: permission denied; {CACHE_FIX}")
    return folder


def keep(obj: Any, path: Path) -> None:
    """`torch.save(obj)` to `path`, whole or not at all: a temporary file beside it, renamed over
    `path` (a reader sees the old file or the new one). An OSError (a full disk) leaves no
    temporary file behind and is raised."""
    import torch

    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
        tmp = Path(f.name)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
