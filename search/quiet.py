"""Library chatter off: Optuna's per-trial logs (and its traceback for an interrupted trial,
which tinynas reports itself) and experimental-feature warnings would drown our own lines."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator


def quiet_libraries() -> None:
    """For the whole process (the CLI, a search's worker processes)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # a retried trial (Optuna's retry callback) carries its first attempt's constraint, which
    # the objective then sets again to the same value: nothing is ignored that matters
    warnings.filterwarnings("ignore", message="The constraint value is ignored")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """`quiet_libraries` for one call of the Python API, the caller's settings restored after
    (usable as a decorator)."""
    import optuna

    level = optuna.logging.get_verbosity()
    with warnings.catch_warnings():
        quiet_libraries()
        try:
            yield
        finally:
            optuna.logging.set_verbosity(level)
