"""Where training runs: device choice and CPU threads, decided once at the CLI boundary."""

from __future__ import annotations

import torch

from search.errors import TinynasError


def resolve_device(name: str) -> str:
    if name == "cpu":
        return "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TinynasError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
        return name
    raise TinynasError(f"unknown --device {name!r}; use cpu or cuda[:N]")


def quiet_libraries() -> None:
    """Optuna's per-trial logs (and its traceback for an interrupted trial, which we report
    ourselves) and experimental-feature warnings would drown our own lines."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def set_threads(threads: int | None) -> None:
    """Intra-op threads for this process; None keeps PyTorch's default (all cores)."""
    if threads is not None:
        if threads < 1:
            raise TinynasError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)


def parse_duration(text: str) -> float:
    """Seconds from '90', '90s', '30m', '2h' or '1h30m'."""
    import re

    parts = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or parts is None:
        raise TinynasError(f"cannot read duration {text!r}; write e.g. 90s, 30m, 2h or 1h30m")
    h, m, s = (float(g) if g else 0.0 for g in parts.groups())
    total = 3600 * h + 60 * m + s
    if total <= 0:
        raise TinynasError(f"duration {text!r} must be positive")
    return total
