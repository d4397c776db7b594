"""The command line: `tinynas` parses, calls the Python API (`search.api`), and displays."""

from __future__ import annotations

import errno
import os
import sys

from search.cli.commands import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    from search.errors import TinynasError
    from search.quiet import quiet_libraries

    quiet_libraries()
    try:
        app()
    except TinynasError as exc:
        _fail(str(exc))
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # the reader is gone (`tinynas trials S | head`): nothing more to say
            _silence_stdout()
            sys.exit(PIPE_EXIT)
        if exc.errno in OUTPUT_FULL:
            _silence_stdout()
            _fail(f"cannot write the output: {exc.strerror}; free some space or send the output elsewhere", code=1)
        raise
    except Exception as exc:
        if _is_config_error(exc):
            _fail(str(exc))
        cause = _storage_cause(exc)
        if cause is None:
            raise
        _fail(
            f"storage error: {str(cause).strip().splitlines()[0]}; the study stays consistent: fix the storage "
            "(make its folder writable, free disk space, restart the database server, stop the process holding "
            "the lock) and run the same command again"
        )


PIPE_EXIT = 1
"""A closed pipe ends the command quietly with 1, as click (under typer) ends it when the pipe
closes inside a command."""
OUTPUT_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
"""Errors of writing to a full disk (or quota, or file size limit): one line, not a traceback."""


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush of what could not be written
    raises nothing more on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _is_config_error(exc: BaseException) -> bool:
    """A bad model config (models.ConfigError), told apart without importing `models` up
    front: it loads PyTorch, which `--help` does not need."""
    import sys

    models = sys.modules.get("models")
    return models is not None and isinstance(exc, models.ConfigError)


def _storage_cause(exc: BaseException) -> BaseException | None:
    """The database's own error behind `exc`, if a storage failure is what raised it: directly,
    or wrapped by Optuna (which can re-raise a failed write as another exception)."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SQLAlchemyError):
            return getattr(current, "orig", None) or current  # e.g. a locked database or a full disk mid-run
        if isinstance(current, StorageInternalError):
            return _storage_cause(current.__cause__) if current.__cause__ is not None else current
        current = current.__cause__ or current.__context__
    return None


ERROR_LINE_CHARS = 600
"""An error is one line a person reads: a message that quotes something huge is cut."""


def _fail(message: str, code: int = 2) -> None:
    from rich.console import Console
    from rich.text import Text

    if len(message) > ERROR_LINE_CHARS:
        message = message[: ERROR_LINE_CHARS - 1] + "…"

    # the message is plain text: a path like runs/[x] or a spec's [run] is printed, not read as markup
    Console(stderr=True).print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    sys.exit(code)
