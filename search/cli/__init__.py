"""The command line: `tinynas` parses, calls the Python API (`search.api`), and displays."""

from __future__ import annotations

import sys

from search.cli.commands import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    from models import ConfigError
    from search.errors import TinynasError
    from search.quiet import quiet_libraries

    quiet_libraries()
    try:
        app()
    except (TinynasError, ConfigError) as exc:
        _fail(str(exc))
    except Exception as exc:
        from optuna.exceptions import StorageInternalError
        from sqlalchemy.exc import SQLAlchemyError

        if not isinstance(exc, SQLAlchemyError | StorageInternalError):
            raise
        cause = getattr(exc, "orig", None) or exc.__cause__ or exc  # e.g. a locked database or a full disk mid-run
        _fail(f"storage error: {str(cause).strip().splitlines()[0]}; the study stays consistent: fix the storage "
              "(free disk space, stop the process holding the lock) and run the same command again")  # fmt: skip


def _fail(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(2)
