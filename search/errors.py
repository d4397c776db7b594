"""The one exception type the CLI turns into a clean error line, and the one boundary
through which every user-named file is read or written."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from search.limits import MAX_NESTING, MAX_USER_FILE_BYTES, QUOTE_CHARS


class TinynasError(Exception):
    """A problem with the user's input or environment: says what is wrong and how to fix it.

    The CLI prints it as one line and exits non-zero; anything else is a bug and keeps
    its traceback.
    """

    exit_code = 2


def check_range(flag: str, value: int, low: int, high: int) -> int:
    """A count from the user (seeds, trials, threads...), refused before anything is allocated."""
    if not low <= value <= high:
        raise TinynasError(f"{flag} must be {low} to {high:,}, got {value}")
    return value


def cores() -> int:
    """The CPU cores this machine has: the most threads or worker processes worth asking for."""
    return os.cpu_count() or 1


def _why(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """A user's value as an error line shows it: repr'd, and cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text):,} characters)"


def nesting(text: str) -> int:
    """The deepest nesting of brackets and braces outside quoted strings and comments (TOML and JSON)."""
    depth = deepest = 0
    quote_char, escaped, comment = "", False, False
    for ch in text:
        if comment:
            comment = ch != "\n"
        elif quote_char:
            if escaped:
                escaped = False
            elif ch == "\\" and quote_char == '"':
                escaped = True
            elif ch == quote_char:
                quote_char = ""
        elif ch in "\"'":
            quote_char = ch
        elif ch == "#":  # a TOML comment (JSON has none outside strings)
            comment = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def read_user_text(path: Path, what: str) -> str:
    """A user-named text file, or one TinynasError saying which file, what is wrong and the fix.
    Its size and nesting are bounded before any parser sees it."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_USER_FILE_BYTES:
            raise TinynasError(
                f"{what} {path} is {size:,} bytes, more than the {MAX_USER_FILE_BYTES:,} a {what} may be; "
                "check that it is the right file"
            )
        text = Path(path).read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise TinynasError(f"{what} {path} is a folder; pass a file") from None
    except FileNotFoundError:
        raise TinynasError(f"{what} {path} does not exist; check the path") from None
    except OSError as exc:
        raise TinynasError(f"cannot read {what} {path}: {_why(exc)}") from None
    except UnicodeDecodeError as exc:
        raise TinynasError(
            f"{what} {path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from None
    if (depth := nesting(text)) > MAX_NESTING:
        raise TinynasError(f"{what} {path} nests brackets {depth} deep, more than {MAX_NESTING}; flatten it")
    return text


def check_writable(path: Path, what: str) -> Path:
    """Refuse early (before any long work) an output path that cannot be written."""
    path = Path(path)
    if not path.parent.is_dir():
        raise TinynasError(f"cannot write {what} {path}: folder {path.parent} does not exist; create it first")
    if path.is_dir():
        raise TinynasError(f"cannot write {what} to {path}: it is a folder; name a file")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise TinynasError(f"cannot write {what} {path}: permission denied; choose another path")
    return path


def write_user_file(path: Path, data: str | bytes, what: str) -> Path:
    """Write a user-named output; a missing folder, a read-only one or a full disk is one line."""
    path = check_writable(Path(path), what)
    try:
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    except OSError as exc:
        raise TinynasError(f"cannot write {what} {path}: {_why(exc)}") from None
    return path


def make_user_folder(path: Path, what: str) -> Path:
    """Create a user-named output folder (and its parents), or fail with one line."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise TinynasError(f"cannot use {path} as the {what}: a file of that name exists") from None
    except OSError as exc:
        raise TinynasError(f"cannot create the {what} {path}: {_why(exc)}") from None
    return path


def check_replaceable(path: Path, what: str, ours: Callable[[Path], bool], force: bool = False) -> bool:
    """Before an output is written over `path`: whether it replaces something (a caller at the
    terminal says so); `what` with its article ("a report"). What tinynas did not write itself (`ours` says no: another program's
    file, a folder of other things) is refused in one line unless `force`."""
    path = Path(path)
    if not path.exists():
        return False
    if force or ours(path):
        return True
    raise TinynasError(
        f"{path} exists and is not {what} tinynas wrote: choose another path, or pass --force to replace it"
    )


def holds_json_keys(path: Path, keys: set[str]) -> bool:
    """Whether `path` is a JSON object with these keys (what tinynas's own JSON outputs hold)."""
    import json

    try:
        if path.stat().st_size > MAX_USER_FILE_BYTES:
            return False
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and keys <= set(data)
