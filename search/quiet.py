"""Library chatter off: Optuna's per-trial logs (and its traceback for an interrupted trial,
which tinynas reports itself) and experimental-feature warnings would drown our own lines."""

from __future__ import annotations

import warnings


def quiet_libraries() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # a retried trial (Optuna's retry callback) carries its first attempt's constraint, which
    # the objective then sets again to the same value: nothing is ignored that matters
    warnings.filterwarnings("ignore", message="The constraint value is ignored")
