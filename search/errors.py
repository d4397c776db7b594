"""The one exception type the CLI turns into a clean error line."""

from __future__ import annotations


class TinynasError(Exception):
    """A problem with the user's input or environment: says what is wrong and how to fix it.

    The CLI prints it as one line and exits non-zero; anything else is a bug and keeps
    its traceback.
    """

    exit_code = 2
