"""The `tinynas` command line: thin wrappers that parse, validate and hand off."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from models import ConfigError, analyse
from search.errors import TinynasError

app = typer.Typer(
    help="Search for tiny CNNs under hard parameter and epoch budgets, then retrain the best.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
DEFAULT_RESULTS = "sqlite:///studies/retrains.db"


def _version(value: bool) -> None:
    if value:
        from search import __version__

        typer.echo(f"tinynas {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """tinynas: Optuna studies over a parameterised CNN builder, stored in SQLite."""


@app.command()
def summary(
    config: Annotated[str, typer.Argument(help="A preset name (seed-8k, compact-4k) or a config JSON.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per-layer table: output shape, parameters, receptive field and jump; totals."""
    from search.experiment import load_experiment
    from search.tables import layer_table

    model = load_experiment(config).model
    result = analyse(model)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        console.print(layer_table(model.name or config, result))


data_app = typer.Typer(help="Datasets: fetch and verify the published IDX files.", no_args_is_help=True)
app.add_typer(data_app, name="data")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Dataset root (holds MNIST/raw). Default: $TINYNAS_DATA, else ./data."),
]
Threads = Annotated[int | None, typer.Option(help="CPU threads for PyTorch (default: all cores).")]
Device = Annotated[str, typer.Option(help="cpu, or cuda[:N] when available.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or per-epoch lines.")]


@data_app.command("fetch")
def data_fetch(
    dataset: Annotated[str, typer.Argument(help="mnist, fashion-mnist or kmnist.")] = "mnist",
    data_dir: DataDir = None,
    mirror: Annotated[str | None, typer.Option(help="Base URL serving the files ($TINYNAS_MIRROR).")] = None,
) -> None:
    """Download a dataset's published files, verifying every MD5; files already there are kept."""
    from search.datasets import data_root, dataset_info
    from search.fetch import fetch

    for path in fetch(dataset_info(dataset), data_root(data_dir), mirror):
        console.print(f"ok  {path}", highlight=False)


@app.command()
def retrain(
    config: Annotated[str, typer.Argument(help="Exported JSON, a bare model config JSON, or a preset name.")],
    seeds: Annotated[int, typer.Option(min=1, help="Independent runs, seeds s, s+1, ...")] = 1,
    epochs: Annotated[int | None, typer.Option(help="Override the config's epochs (< 20).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default runs/<name>-<hash>).")] = None,
    results: Annotated[str, typer.Option(help="SQLAlchemy URL recording every run.")] = DEFAULT_RESULTS,
    subset: Annotated[int | None, typer.Option(min=10, help="Train on N training images only.")] = None,
    data_dir: DataDir = None,
    device: Device = "cpu",
    threads: Threads = None,
    quiet: Quiet = False,
) -> None:
    """Train on all 60,000 training images and report test accuracy after every epoch, per seed."""
    from search.datasets import data_root
    from search.experiment import load_experiment
    from search.retrain import RetrainOptions
    from search.retrain import retrain as run_retrain
    from search.runtime import resolve_device, set_threads

    exp = load_experiment(config)
    if epochs is not None:
        _check_epochs(epochs)
    set_threads(threads)
    folder = out or Path("runs") / f"{exp.model.name or 'model'}-{exp.config_hash()[:8]}"
    opts = RetrainOptions(seeds=seeds, out=folder, data_root=data_root(data_dir), results_url=results,
                          epochs=epochs, device=resolve_device(device), subset=subset, quiet=quiet)  # fmt: skip
    run_retrain(exp, opts, console)
    console.print(f"outputs in {folder}; runs recorded in {results}", highlight=False)


def _check_epochs(epochs: int) -> None:
    from search.training import MAX_EPOCHS

    if not 1 <= epochs <= MAX_EPOCHS:
        raise TinynasError(f"--epochs {epochs}: tinynas trains for 1 to {MAX_EPOCHS} epochs (fewer than 20)")


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    try:
        app()
    except (TinynasError, ConfigError) as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
