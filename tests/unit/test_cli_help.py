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


def test_paths_with_brackets_are_printed_as_they_are(tmp_path) -> None:
    """What a command says about a user's files names them whole: `runs/[a]/t.csv` is a path,
    not rich markup to swallow."""
    import optuna

    from search.study.record import record_study, user_attrs
    from tests.helpers import make_spec

    folder = tmp_path / "[a]"
    folder.mkdir()
    storage = f"sqlite:///{folder / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=storage)
    record_study(study, make_spec(name="s"), "accuracy", None)
    study.add_trial(optuna.trial.create_trial(value=95.0, user_attrs=user_attrs(params=900)))
    shown = CliRunner().invoke(app, ["trials", "s", "--storage", storage, "--csv", str(folder / "t.csv")])
    assert shown.exit_code == 0, shown.output
    assert f"1 trial written to {folder / 't.csv'}" in shown.output
