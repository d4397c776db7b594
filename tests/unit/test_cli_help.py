"""`tinynas COMMAND --help` shows every option's help as written: a spec section such as
`[run]` is text, not rich markup to swallow."""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.testing import CliRunner

from search.cli.commands import app


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command and subcommand under a (typer's own click) group, with its path."""
    out = []
    for name, command in getattr(group, "commands", {}).items():
        out += [((*prefix, name), command), *_commands(command, (*prefix, name))]
    return out


def test_bracketed_words_in_option_help_are_shown() -> None:
    checked = 0
    for path, command in _commands(typer.main.get_command(app)):
        shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "300"}).output
        for param in command.params:
            for word in re.findall(r"\\?\[[a-z][a-z.]*\]", getattr(param, "help", None) or ""):
                assert word.lstrip("\\") in shown, (path, param.name, word)
                checked += 1
    assert checked  # the export's --confirm names the spec's [run] section


def test_help_starts_without_loading_pytorch() -> None:
    """`--help` of the program and of every command imports no PyTorch (seconds to load on a
    CPU machine): only the work a command does needs it."""
    import subprocess
    import sys

    names = [" ".join(path) for path, _ in _commands(typer.main.get_command(app))]
    probe = (
        "import sys\nfrom search.cli import main\n"
        "for args in [[], *[a.split() for a in sys.argv[1:]]]:\n"
        "    sys.argv = ['tinynas', *args, '--help']\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        "print('torch' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *names], capture_output=True, text=True, timeout=120)
    assert done.stderr.strip().splitlines()[-1] == "False", done.stderr[-2000:]
