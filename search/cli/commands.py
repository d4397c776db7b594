"""The `tinynas` command line: parse, call the Python API, display. Nothing else."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from models import PRESETS
from search.errors import TinynasError, cores
from search.limits import DEFAULT_RESULTS_URL, EPOCH_CEILING, STORAGE_ENV, STUDIES_DIR

app = typer.Typer(
    help="Search for tiny CNNs under hard parameter and epoch budgets, then retrain the best.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()


def _version(value: bool) -> None:
    if value:
        from search.version import __version__

        typer.echo(f"tinynas {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """tinynas: Optuna studies over a parameterised CNN builder, stored in SQLite."""


@contextmanager
def stoppable(after: str, then: Callable[[], None] | None = None) -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP end the command the way Ctrl-C ends a search: its workers stop,
    one line says what stopped it and what is kept (`then` may say more), and the exit code is
    128 + the signal."""
    from search.api import stops_on_signals
    from search.signals import stop_exit_code, stop_name

    try:
        with stops_on_signals():
            yield
    except KeyboardInterrupt:
        say(f"stopped by {stop_name()}; {after}")
        if then is not None:
            then()
        raise typer.Exit(stop_exit_code()) from None


def say(*parts: str | tuple[str, str]) -> None:
    """One line, as plain text: a path or name with brackets in it is printed as it is, never
    read as rich markup; a (text, style) part is styled."""
    console.print(Text.assemble(*parts), highlight=False, soft_wrap=True)


@app.command()
def presets(
    results: Annotated[str, typer.Option(help="Where retrain results are recorded.")] = DEFAULT_RESULTS_URL,
) -> None:
    """The named presets: parameters, MACs, what each is, and its test accuracy where a retrain is recorded."""
    from rich.table import Table
    from rich.text import Text

    from search import api

    frame = api.presets(results)
    table = Table(title="presets (tinynas summary NAME, tinynas retrain NAME)")
    for col in ("preset", "params", "MACs", "test accuracy, final epoch", "about"):
        table.add_column(col, justify="right" if col in ("params", "MACs") else "left", overflow="fold")
    for row in frame.itertuples(index=False):
        about = Text(row.about)  # plain text: a docstring's `[[start]]` is no markup
        table.add_row(row.preset, f"{row.params:,}", f"{row.macs:,}", row.test_acc or "-", about)
    console.print(table)


@app.command()
def summary(
    config: Annotated[str, typer.Argument(help=f"A preset name ({', '.join(PRESETS)}) or a config JSON.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per-layer table: output shape, parameters, receptive field and jump; totals."""
    from search import api
    from search.cli.display import layer_table

    model, result = api.summary(config)
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
Threads = Annotated[int | None, typer.Option(help="CPU threads for PyTorch, per worker process.")]
Device = Annotated[str, typer.Option(help="cpu, or cuda[:N] when available.")]
Jobs = Annotated[
    int | None,
    typer.Option(
        help="Worker processes on this machine. Default on a CPU: one per core, one thread each "
        "(with --threads alone: one worker)."
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or per-epoch lines.")]
Force = Annotated[
    bool, typer.Option("--force", help="Replace --out even when tinynas did not write it (else refused).")
]


def say_replaced(path: Path, existed: bool) -> None:
    """One line when an output replaced one written before (tinynas's own; others need --force)."""
    if existed:
        say(f"replaced the earlier {path}")


Storage = Annotated[
    str | None,
    typer.Option(help=f"SQLAlchemy URL (default ${STORAGE_ENV}, else sqlite:///studies/<name>.db)."),
]


@data_app.command("fetch")
def data_fetch(
    dataset: Annotated[str, typer.Argument(help="mnist, fashion-mnist, kmnist or cifar10.")] = "mnist",
    data_dir: DataDir = None,
    mirror: Annotated[str | None, typer.Option(help="Base URL serving the files ($TINYNAS_MIRROR).")] = None,
) -> None:
    """Download a dataset's published files, verifying every MD5; files already there are kept."""
    from search import api

    for path in api.fetch_data(dataset, data_dir, mirror):
        say(f"ok  {path}")


Fused = Annotated[
    bool | None,
    typer.Option(
        "--fused/--no-fused",
        help="Train the seeds as one fused network (default on a GPU; how results were retrained "
        "before runs were spread over cores: pass it to replay them).",
    ),
]


def _announcer(exp):
    """What a retrain says before it trains: its teacher when it distils, then each seed (or
    fused group of seeds) as it starts."""
    from models import count_params
    from search import api
    from search.cli.display import plural

    params = count_params(exp.model)
    if exp.train.distill is not None:
        say(
            "distilling from teacher ",
            (exp.train.distill.teacher, "bold"),
            f": trained first on the same training images, unless {api.teacher_cache()} holds it",
        )

    def announce(cfgs, n_train: int, n_test: int) -> None:
        which = f"seed {cfgs[0].seed}" if len(cfgs) == 1 else f"seeds {', '.join(str(c.seed) for c in cfgs)} (fused)"
        say(
            (which, "bold"),
            f": {params:,} params, {plural(cfgs[0].epochs, 'epoch')} on {n_train:,} training images, "
            f"testing on {n_test:,} after every epoch",
        )

    return announce


@app.command()
def retrain(
    config: Annotated[str, typer.Argument(help="Exported JSON, a bare model config JSON, or a preset name.")],
    seeds: Annotated[int, typer.Option(min=1, help="Independent runs, seeds s, s+1, ...")] = 1,
    first_seed: Annotated[
        int | None, typer.Option(min=0, help="s: the first seed (default: the recipe's, as exported).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help=f"Override the config's epochs (< {EPOCH_CEILING}).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default runs/<name>-<hash>).")] = None,
    results: Annotated[str, typer.Option(help="SQLAlchemy URL recording every run.")] = DEFAULT_RESULTS_URL,
    subset: Annotated[int | None, typer.Option(min=10, help="Train on N training images only.")] = None,
    jobs: Jobs = None,
    fused: Fused = None,
    sequential: Annotated[bool, typer.Option(help="Train the seeds one after another in this process.")] = False,
    data_dir: DataDir = None,
    device: Device = "cpu",
    threads: Threads = None,
    quiet: Quiet = False,
    force: Force = False,
) -> None:
    """Train on all 60,000 training images and report test accuracy after every epoch, per seed.

    On a CPU the seeds' runs are spread over the cores, one thread each; --fused trains them
    as one network, --sequential one after another here (with per-batch progress).
    """
    from search import api
    from search.cli.display import retrain_table
    from search.cli.progress import EpochBars

    exp = api.load_experiment(config)
    folder = out or api.default_run_folder(exp)
    with stoppable("the runs that finished are in their folders; run the command again for all seeds"):
        result = api.retrain(
            exp,
            seeds=seeds,
            first_seed=first_seed,
            epochs=epochs,
            out=folder,
            results=results,
            subset=subset,
            data_dir=data_dir,
            device=device,
            threads=threads,
            jobs=jobs,
            fused=fused,
            sequential=sequential,
            on_seed_start=_announcer(exp),
            reporter=None if quiet else EpochBars(console, eval_name="test"),
            force=force,
        )
    console.print(retrain_table(result))
    say(f"outputs in {folder}; runs recorded in {api.redact(results)}")


@app.command()
def search(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC.toml", help="Study spec (see studies/).")],
    trials: Annotated[int | None, typer.Option(help="Run until the study holds N finished trials.")] = None,
    timeout: Annotated[
        str | None,
        typer.Option(
            help="End the whole command after e.g. 90m or 2h: trials in flight are cut short and queued "
            "for the next run, confirmation gets the time left."
        ),
    ] = None,
    storage: Storage = None,
    jobs: Jobs = None,
    data_dir: DataDir = None,
    subset: Annotated[int | None, typer.Option(help="Train each trial on N training images only.")] = None,
    seeds_per_trial: Annotated[
        int | None, typer.Option(help="Seeds each trial trains (fused); its score is their mean. Default: the spec's.")
    ] = None,
    no_confirm: Annotated[
        bool, typer.Option("--no-confirm", help="Skip the spec's confirmation of its top trials (\\[run] confirm).")
    ] = False,
    device: Device = "cpu",
    threads: Threads = None,
    quiet: Quiet = False,
) -> None:
    """Sample, train and prune CNNs under the spec's hard budgets; every trial goes to storage.

    Running the same command again resumes the study: it adds trials until the study holds
    --trials finished (complete or pruned) ones.
    """
    from search import api
    from search.cli.display import feed

    spec = api.load_spec(spec_path)
    flags = dict(
        trials=trials,
        timeout=timeout,
        storage=storage,
        data_dir=data_dir,
        subset=subset,
        device=device,
        jobs=jobs,
        threads=threads,
        seeds_per_trial=seeds_per_trial,
        confirm=False if no_confirm else None,
    )
    after = (
        "the study is consistent, the trials cut short are queued again (each to resume from its last "
        "finished epoch), and the same command resumes it"
    )
    with stoppable(after, then=lambda: _print_outcome(_study(spec.name, storage))):
        study = api.search(
            spec,
            make_watcher=partial(feed, footer=not quiet),
            feed=search_feed(spec.name),
            **flags,
        )
    _print_outcome(study)


def search_feed(name: str):
    """What the terminal shows of a search besides its trials: where the study stands, other
    runs sharing it, teachers, and what the --timeout cut."""
    from search.api import SearchFeed
    from search.cli.display import plural

    def starting(at) -> None:
        if at.finished >= at.target:
            say(
                f"study {name} already holds {at.finished} finished trials (target {at.target}); raise --trials to add more"
            )
            return
        say(
            f"study {name}: {at.finished} finished trials so far, running to {at.target} "
            f"with {plural(at.workers, 'worker')} x {plural(at.threads or cores(), 'thread')}; storage {at.storage}"
        )
        if at.others:
            say(
                f"another run is training this study on this host now ({len(at.others)} "
                f"{'process' if len(at.others) == 1 else 'processes'}, pid {', '.join(map(str, at.others))}): "
                f"the runs share its trials and each trains its own, but together they run "
                f"{len(at.others) + at.workers} training processes on {plural(cores(), 'core')}"
            )
        if at.teachers:
            say(
                f"distillation teachers {', '.join(at.teachers)}: each trained once on the search's "
                f"{at.train_images:,} training images (never its validation images), unless cached"
            )

    def timeout_reached(cut: int) -> None:
        queued = f"; {plural(cut, 'trial')} cut short, queued for the next run" if cut else ""
        say(f"the --timeout is reached{queued}")

    def confirmation_cut(outcome, seeds: int) -> None:
        later = f"`tinynas export {name} --rule best --confirm {outcome.top} --confirm-seeds {seeds}`"
        if not outcome.done:
            say(f"confirmation skipped: the --timeout is spent; run it later with {later}")
        else:
            say(f"confirmation cut at the --timeout after {len(outcome.done)} of {outcome.top}; finish it with {later}")

    return SearchFeed(starting, timeout_reached, confirmation_cut, confirm_feed())


@app.command()
def worker(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC.toml", help="The study's spec.")],
    storage: Annotated[
        str | None,
        typer.Option(help=f"The shared storage, e.g. postgresql+psycopg://user@host/db (default ${STORAGE_ENV})."),
    ] = None,
    trials: Annotated[int | None, typer.Option(help="Stop when the study holds N finished trials.")] = None,
    timeout: Annotated[
        str | None,
        typer.Option(
            help="End after e.g. 8h: the trial in flight is cut short and queued again (it resumes from its last finished epoch)."
        ),
    ] = None,
    data_dir: DataDir = None,
    subset: Annotated[int | None, typer.Option(help="Train each trial on N training images only.")] = None,
    device: Device = "cpu",
    threads: Threads = None,
) -> None:
    """Join a study from any machine: the storage is shared, every worker adds trials to it."""
    from search import api
    from search.cli.display import feed

    spec = api.load_spec(spec_path)
    if storage is None and not os.environ.get(STORAGE_ENV):
        raise TinynasError(f"a worker joins a shared study: pass --storage URL (or set ${STORAGE_ENV})")
    with stoppable("the trial cut short is queued again, to resume from its last finished epoch"):
        api.worker(
            spec,
            make_watcher=partial(feed, footer=False),
            trials=trials,
            timeout=timeout,
            storage=storage,
            data_dir=data_dir,
            subset=subset,
            device=device,
            threads=threads,
        )


def confirm_feed():
    """What the terminal shows of a confirmation: the trials it retrains and about how long (for
    a search's, `top`: its top N of M complete trials), a line per epoch, a line per result."""
    from search.api import ConfirmFeed
    from search.cli.display import plural

    def starting(todo, seeds: int, workers: int, top: tuple[int, int] | None) -> None:
        estimate = sum(r.seconds or 0.0 for r in todo) * seeds / workers
        spread = f" over {plural(workers, 'worker')}" if workers > 1 else ""
        which = ""
        if top is not None:
            n, complete = top
            some = "" if len(todo) == n else f"{len(todo)} of "  # the others were confirmed already
            which = f"{some}the top {n} of {plural(complete, 'complete trial')} "
        say(
            f"confirming {which}(trial {', '.join(str(r.number) for r in todo)}) with "
            f"{plural(seeds, 'fresh seed')} each on the validation split: about {max(1, round(estimate / 60))} min "
            f"(their search time x {seeds} seeds{spread})"
        )

    def epoch(news) -> None:
        say(
            f"confirming trial {news.trial:>4}  epoch {news.epoch:>2}/{news.epochs}  "
            f"val {news.val_acc:6.2f}% (mean of its seeds)  {news.seconds:5.1f}s"
        )

    def confirmed(record, c) -> None:
        seeds = ", ".join(f"{v:.2f}" for v in c.per_seed)
        say(
            f"trial {record.number:>4}  {record.params:>7,} params  searched {record.value:6.2f}%  "
            f"confirmed {c.mean:6.2f}%  (seeds {', '.join(map(str, c.seeds))}: {seeds})"
        )

    return ConfirmFeed(starting, epoch, confirmed)


def _print_outcome(study) -> None:
    from search import api

    frame = api.trials(study)
    if frame.empty:
        return
    counts = frame["state"].value_counts().to_dict()
    line = ", ".join(f"{n} {s.lower()}" for s, n in counts.items())
    complete = frame[frame["state"] == "COMPLETE"]
    if not complete.empty:
        best = complete.loc[complete["val_acc"].idxmax()]
        line += f"; best val {best['val_acc']:.2f}% with {int(best['params']):,} params (trial {best.name})"
    say(f"study {study.study_name}: {len(frame)} trials: {line}")


def _study(name: str, storage: str | None):
    from search import api

    return api.load_study(name, storage)


@app.command()
def trials(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: Storage = None,
    csv: Annotated[Path | None, typer.Option(help="Write the table as CSV.")] = None,
    parquet: Annotated[Path | None, typer.Option(help="Write the table as Parquet.")] = None,
    params: Annotated[
        bool, typer.Option("--params", help="Show the sampled parameters (param.NAME) instead of the size columns.")
    ] = False,
) -> None:
    """The trials table: state, params, MACs, accuracy, sampled parameters, flattened config."""
    from models import ARCH_NOTATION
    from search import api
    from search.cli.display import plural
    from search.errors import write_user_file

    frame = api.trials(_study(study, storage))
    if csv:
        write_user_file(csv, frame.to_csv(), "trials table")
    if parquet:
        write_user_file(parquet, frame.to_parquet(), "trials table")
    if csv or parquet:
        say(f"{plural(len(frame), 'trial')} written to {csv or parquet}")
        return
    if frame.empty:
        typer.echo("no trials")
        return
    cols = ["state", "val_acc", "params", "macs", "weight_bytes", "activation_bytes", "epochs_run", "seconds", "arch"]
    if params:  # the names a spec's [[start]] takes
        cols = ["state", "val_acc", "params", *sorted(c for c in frame if c.startswith("param."))]
    typer.echo(frame[cols].to_string(float_format=lambda v: f"{v:.4g}" if abs(v) < 1 else f"{v:.2f}"))
    if not params:
        typer.echo(f"\n{ARCH_NOTATION}; --params shows the sampled parameters (the names a [[start]] takes)")


@app.command()
def studies(
    storage: Annotated[
        str | None,
        typer.Option(help=f"A storage URL (default ${STORAGE_ENV}, else every {STUDIES_DIR}/*.db)."),
    ] = None,
) -> None:
    """The studies in a storage (or in every studies/*.db), with their trial counts and best values."""
    from search import api

    frame = api.studies(storage)
    given = storage or os.environ.get(STORAGE_ENV)
    where = api.redact(given) if given else " ".join(api.local_storages()) or STUDIES_DIR + "/"
    typer.echo(frame.to_string(index=False) if not frame.empty else f"no studies in {where}")


Target = Annotated[float | None, typer.Option(help="Target validation accuracy (%) (default: the spec's target).")]


@app.command()
def report(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: Storage = None,
    out: Annotated[Path | None, typer.Option(help="HTML file to write (default studies/<name>-report.html).")] = None,
    results: Annotated[str, typer.Option(help="Where retrain results are recorded.")] = DEFAULT_RESULTS_URL,
    target: Target = None,
    screenshot: Annotated[Path | None, typer.Option(help="Also open it in headless Chromium and save a PNG.")] = None,
    force: Force = False,
) -> None:
    """One self-contained HTML report: Pareto front, curves, importances, top trials, retrains."""
    from search import api
    from search.limits import STUDIES_DIR

    out = out or Path(STUDIES_DIR) / f"{study}-report.html"
    existed = out.exists()
    path = api.report(_study(study, storage), out, results=results, target=target, force=force)
    say(f"report written to {path}")
    say_replaced(path, existed)
    if screenshot:
        check = api.check_report(path, screenshot)
        say(
            f"all {check.total} figures drew in headless Chromium, every point inside its axes; screenshot {screenshot}"
        )


@app.command()
def export(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: Storage = None,
    rule: Annotated[
        str,
        typer.Option(
            help="smallest: the fewest parameters meeting --target (the default); best: the most accurate; trial=N."
        ),
    ] = "smallest",
    target: Target = None,
    max_params: Annotated[
        int | None,
        typer.Option(help="Only trials of at most N parameters: one budget's pick from a Pareto study."),
    ] = None,
    out: Annotated[Path, typer.Option(help="JSON file for `tinynas retrain`.")] = Path("best.json"),
    confirm: Annotated[
        int | None,
        typer.Option(
            help="First retrain the rule's top N trials with fresh seeds on the validation split; "
            "the rule then applies to their confirmed means. Default: the confirmations the search "
            "made if its spec asks for them (\\[run] confirm), else none; 0: judge by searched scores."
        ),
    ] = None,
    confirm_seeds: Annotated[int, typer.Option(help="Fresh seeds per confirmed trial.")] = 2,
    data_dir: DataDir = None,
    device: Device = "cpu",
    threads: Threads = None,
    jobs: Jobs = None,
    force: Force = False,
) -> None:
    """Write the chosen trial's model + training config + provenance for `tinynas retrain`."""

    from search import api

    the_study = _study(study, storage)
    existed = out.exists()
    with stoppable("no configuration was exported; the confirmations that finished are kept in the study"):
        exp = api.export(
            the_study,
            rule=rule,
            target=target,
            max_params=max_params,
            out=out,
            confirm=confirm,
            confirm_seeds=confirm_seeds,
            data_dir=data_dir,
            device=device,
            threads=threads,
            jobs=jobs,
            confirm_feed=confirm_feed(),
            force=force,
        )
    _say_exported(the_study, exp, rule, target, out)
    say_replaced(out, existed)


def _say_exported(study, exp, rule: str, target: float | None, out: Path) -> None:
    """Which trial went where; under the default rule, why it is not the most accurate one."""
    from search import api

    p = exp.provenance
    confirmed = (p.model_extra or {}).get("confirmed_val_acc")
    held = f" (confirmed {confirmed:.2f}% on fresh seeds)" if confirmed is not None else ""
    say(f"trial {p.trial}: {p.val_acc:.2f}% validation accuracy{held}, {p.params:,} params -> {out}")
    if rule == "smallest":
        best = api.most_accurate(study)
        goal = api.target_of(study) if target is None else target
        if best.number != p.trial:
            say(
                f"picked by --rule smallest: the fewest parameters meeting the target {goal:.2f}%; the most "
                f"accurate is trial {best.number} at {best.score:.2f}% with {best.params:,} params (--rule best)"
            )


@app.command()
def deploy(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint.pt written by `tinynas retrain` (OUT/seedN/).")],
    out: Annotated[Path, typer.Option(help="The ONNX file; the card goes beside it as .card.json.")] = Path(
        "model.onnx"
    ),
    int8: Annotated[bool, typer.Option("--int8", help="Also write the int8 model (.int8.onnx).")] = False,
    data_dir: DataDir = None,
    threads: Threads = None,
    force: Force = False,
) -> None:
    """Ship a retrained model: ONNX with BatchNorm folded (and int8), checked on the test set."""
    from search import api
    from search.cli.display import deploy_table

    existed = out.exists()
    card = api.deploy(checkpoint, out, int8=int8, data_dir=data_dir, threads=threads, force=force)
    console.print(deploy_table(card))
    if card.int8_drop is not None and card.int8_drop > api.INT8_DROP_WARNING:
        say(
            f"int8 loses {card.int8_drop:.2f} points of test accuracy (more than {api.INT8_DROP_WARNING}): "
            "ship the fp32 file where accuracy matters"
        )
    say(f"card -> {api.card_path(out)}")
    say_replaced(out, existed)


@app.command()
def dashboard(
    study: Annotated[str | None, typer.Argument(help="Study name (its default storage is used).")] = None,
    storage: Storage = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 picks a free one).")] = 8080,
) -> None:
    """Serve optuna-dashboard on the study's storage until Ctrl-C."""
    from search import api

    def ready(url: str) -> None:
        say(f"optuna-dashboard at {url}  (Ctrl-C stops)")
        if not api.is_loopback(host):
            Console(stderr=True).print(
                Text(
                    f"warning: optuna-dashboard has no authentication: on {host}, anyone who can reach this machine "
                    "can read and change the study. Prefer --host 127.0.0.1 and an SSH tunnel."
                ),
                highlight=False,
                soft_wrap=True,
            )

    api.dashboard(study, storage, host, port, ready)
