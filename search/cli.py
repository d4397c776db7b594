"""The `tinynas` command line: thin wrappers that parse, validate and hand off."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from optuna.exceptions import StorageInternalError
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

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


Storage = Annotated[str | None, typer.Option(help="SQLAlchemy URL (default sqlite:///studies/<name>.db).")]


def _search_options(spec, storage, trials, timeout, data_dir, subset, device, jobs, threads, footer):
    from search.datasets import data_root
    from search.runner import SearchOptions
    from search.runtime import parse_duration, resolve_device
    from search.storage import default_url

    if trials is not None and trials < 1:
        raise TinynasError(f"--trials must be at least 1, got {trials}")
    if jobs < 1:
        raise TinynasError(f"--jobs must be at least 1, got {jobs}")
    timeout = timeout or spec.run.timeout
    return SearchOptions(
        storage=storage or default_url(spec.name), trials=trials or spec.run.trials, data_root=data_root(data_dir),
        timeout_s=parse_duration(timeout) if timeout else None, subset=subset, device=resolve_device(device),
        jobs=jobs, threads=threads, footer=footer,
    )  # fmt: skip


@app.command()
def search(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC.toml", help="Study spec (see studies/).")],
    trials: Annotated[int | None, typer.Option(help="Run until the study holds N finished trials.")] = None,
    timeout: Annotated[str | None, typer.Option(help="Stop starting trials after e.g. 90m or 2h.")] = None,
    storage: Storage = None,
    jobs: Annotated[int, typer.Option(help="Worker processes on this machine, threads split between them.")] = 1,
    data_dir: DataDir = None,
    subset: Annotated[int | None, typer.Option(help="Train each trial on N training images only.")] = None,
    device: Device = "cpu",
    threads: Threads = None,
    quiet: Quiet = False,
) -> None:
    """Sample, train and prune CNNs under the spec's hard budgets; every trial goes to storage.

    Running the same command again resumes the study: it adds trials until the study holds
    --trials finished (complete or pruned) ones.
    """
    from search.interrupt import graceful_interrupts
    from search.runner import run_search
    from search.spec import load_spec

    spec = load_spec(spec_path)
    opts = _search_options(spec, storage, trials, timeout, data_dir, subset, device, jobs, threads, not quiet)
    try:
        with graceful_interrupts():  # trials have their own guard (search.interrupt.TrialGuard)
            study = run_search(spec, opts, console)
    except KeyboardInterrupt:
        console.print("interrupted; the study is consistent and the same command resumes it", highlight=False)
        _print_outcome(_study(spec.name, opts.storage))
        raise typer.Exit(130) from None
    _print_outcome(study)


@app.command()
def worker(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC.toml", help="The study's spec.")],
    storage: Annotated[str, typer.Option(help="The shared storage, e.g. postgresql+psycopg://user@host/db.")],
    trials: Annotated[int | None, typer.Option(help="Stop when the study holds N finished trials.")] = None,
    timeout: Annotated[str | None, typer.Option(help="Stop starting trials after e.g. 8h.")] = None,
    data_dir: DataDir = None,
    subset: Annotated[int | None, typer.Option(help="Train each trial on N training images only.")] = None,
    device: Device = "cpu",
    threads: Threads = None,
) -> None:
    """Join a study from any machine: the storage is shared, every worker adds trials to it."""
    from search.interrupt import graceful_interrupts
    from search.runner import check_space, run_worker
    from search.spec import load_spec

    spec = load_spec(spec_path)
    check_space(spec)
    opts = _search_options(spec, storage, trials, timeout, data_dir, subset, device, 1, threads, False)
    opts = replace(opts, worker=os.getpid())  # distinct samples per machine; not reproducible by design
    try:
        with graceful_interrupts():
            run_worker(spec, opts, console)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _print_outcome(study) -> None:
    from search.trials import trials_frame

    frame = trials_frame(study)
    if frame.empty:
        return
    counts = frame["state"].value_counts().to_dict()
    line = ", ".join(f"{n} {s.lower()}" for s, n in counts.items())
    complete = frame[frame["state"] == "COMPLETE"]
    if not complete.empty:
        best = complete.loc[complete["val_acc"].idxmax()]
        line += f"; best val {best['val_acc']:.2f}% with {int(best['params']):,} params (trial {best.name})"
    console.print(f"study {study.study_name}: {len(frame)} trials: {line}", highlight=False)


@app.command()
def trials(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: Storage = None,
    csv: Annotated[Path | None, typer.Option(help="Write the table as CSV.")] = None,
    parquet: Annotated[Path | None, typer.Option(help="Write the table as Parquet.")] = None,
) -> None:
    """The trials table: state, params, MACs, accuracy, sampled parameters, flattened config."""
    from search.storage import default_url, load_study, open_storage
    from search.trials import trials_frame

    frame = trials_frame(load_study(study, open_storage(storage or default_url(study), create=False)))
    if csv:
        frame.to_csv(csv)
    if parquet:
        frame.to_parquet(parquet)
    if csv or parquet:
        console.print(f"{len(frame)} trials written to {csv or parquet}", highlight=False)
        return
    cols = ["state", "val_acc", "params", "macs", "receptive_field", "epochs_run", "seconds", "arch"]
    typer.echo(frame[cols].to_string(float_format=lambda v: f"{v:.2f}") if not frame.empty else "no trials")


@app.command()
def studies(storage: Annotated[str, typer.Option(help="SQLAlchemy URL of the storage.")]) -> None:
    """The studies in a storage, with their trial counts and best values."""
    from search.storage import open_storage
    from search.trials import studies_frame

    frame = studies_frame(open_storage(storage, create=False))
    typer.echo(frame.to_string(index=False) if not frame.empty else "no studies in this storage")


def _study(name: str, storage: str | None):
    from search.storage import default_url, load_study, open_storage

    return load_study(name, open_storage(storage or default_url(name), create=False))


Target = Annotated[float, typer.Option(help="Target validation accuracy (%).")]


@app.command()
def report(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: Storage = None,
    out: Annotated[Path | None, typer.Option(help="HTML file to write (default studies/<name>-report.html).")] = None,
    results: Annotated[str, typer.Option(help="Where retrain results are recorded.")] = DEFAULT_RESULTS,
    target: Target = 99.4,
    screenshot: Annotated[Path | None, typer.Option(help="Also open it in headless Chromium and save a PNG.")] = None,
) -> None:
    """One self-contained HTML report: Pareto front, curves, importances, top trials, retrains."""
    from search.report import write_report

    path = write_report(_study(study, storage), results, out or Path("studies") / f"{study}-report.html", target)
    console.print(f"report written to {path}", highlight=False)
    if screenshot:
        from search import browser

        drawn, total = browser.drawn_figures(path)
        if drawn < total:
            raise TinynasError(f"only {drawn} of {total} figures drew in Chromium; the report is broken")
        browser.screenshot(path, screenshot)
        console.print(f"all {total} figures drew in headless Chromium; screenshot {screenshot}", highlight=False)


@app.command()
def export(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: Storage = None,
    rule: Annotated[str, typer.Option(help="smallest (meeting --target), best, or trial=N.")] = "smallest",
    target: Target = 99.4,
    out: Annotated[Path, typer.Option(help="JSON file for `tinynas retrain`.")] = Path("best.json"),
) -> None:
    """Write the chosen trial's model + training config + provenance for `tinynas retrain`."""
    from search.export import experiment_for, pick

    loaded = _study(study, storage)
    trial = pick(loaded, rule, target)
    exp = experiment_for(loaded, trial)
    out.write_text(exp.to_json())
    console.print(f"trial {trial.number}: {trial.values[0]:.2f}% validation accuracy, "
                  f"{exp.provenance.params:,} params -> {out}", highlight=False)  # fmt: skip


@app.command()
def dashboard(
    study: Annotated[str | None, typer.Argument(help="Study name (its default storage is used).")] = None,
    storage: Storage = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 picks a free one).")] = 8080,
) -> None:
    """Serve optuna-dashboard on the study's storage until Ctrl-C."""
    from search.dashboard import serve
    from search.storage import default_url, load_study, open_storage

    if study is None and storage is None:
        raise TinynasError("name a STUDY or pass --storage")
    opened = open_storage(storage or default_url(study), create=False)
    path = f"/dashboard/studies/{load_study(study, opened)._study_id}" if study else "/dashboard"
    serve(opened, host, port, lambda url: console.print(f"optuna-dashboard at {url}{path}  (Ctrl-C stops)",
                                                         highlight=False))  # fmt: skip


def _check_epochs(epochs: int) -> None:
    from search.training import MAX_EPOCHS

    if not 1 <= epochs <= MAX_EPOCHS:
        raise TinynasError(f"--epochs {epochs}: tinynas trains for 1 to {MAX_EPOCHS} epochs (fewer than 20)")


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    from search.runtime import quiet_libraries

    quiet_libraries()
    try:
        app()
    except (TinynasError, ConfigError) as exc:
        _fail(str(exc))
    except (SQLAlchemyError, StorageInternalError) as exc:  # e.g. a locked database or a full disk mid-run
        cause = getattr(exc, "orig", None) or exc.__cause__ or exc
        _fail(f"storage error: {str(cause).strip().splitlines()[0]}; the study stays consistent: fix the storage "
              "(free disk space, stop the process holding the lock) and run the same command again")  # fmt: skip


def _fail(message: str) -> None:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(2)
