"""The Python API: the CLI's steps as functions, for a notebook or a script.

    import search as tinynas

    spec = tinynas.load_spec("studies/tiny.toml")
    study = tinynas.search(spec, trials=3, data_dir="data")
    frame = tinynas.trials(study)                     # a pandas DataFrame
    best = tinynas.export(study, rule="best", out="best.json")
    result = tinynas.retrain(best, seeds=2, epochs=2)  # RetrainResult: per-seed test accuracy

Every function returns values and prints nothing (Optuna's logging and warnings are silenced
during a call and restored after); the CLI is these functions plus display.
Errors are `TinynasError`, whose message says what is wrong and how to fix it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from models import Analysis, ModelConfig, analyse
from search.data import data_root, dataset_info, fetch
from search.errors import TinynasError, check_range, check_replaceable, check_writable, write_user_file
from search.limits import DEFAULT_RESULTS_URL, MAX_CONFIRM, MAX_PARAMS, MAX_SEEDS, STORAGE_ENV, STUDIES_DIR
from search.outputs import experiment_for, pick, retrain_records, run_folder, write_report
from search.outputs.browser import FigureCheck, check_figures, screenshot
from search.outputs.dashboard import is_loopback, serve
from search.outputs.deploy import INT8_DROP_WARNING, DeployCard, card_path, deploy_checkpoint
from search.outputs.export import (
    candidates,
    is_export,
    pick_confirmed,
    searched_confirmations,
    study_target,
    within_params,
)
from search.outputs.presets_table import presets_frame
from search.quiet import quiet
from search.study import (
    QUIET,
    ConfirmEpoch,
    ConfirmFeed,
    Kind,
    SearchFeed,
    SearchFlags,
    SearchStart,
    StudyRecord,
    StudySpec,
    TrialRecord,
    WatcherFactory,
    join_study,
    open_storage,
    redact,
    resolve_url,
    search_study,
    silent,
    studies_frame,
    trials_frame,
)
from search.study import load_spec as _load_spec
from search.study import load_study as _load_study
from search.study.confirm import UNHEARD
from search.study.confirm import confirm as confirm_trials
from search.study.interrupt import graceful_interrupts, stop_signals_restored
from search.training import (
    EpochResult,
    Experiment,
    Reporter,
    Resources,
    RetrainOptions,
    RetrainResult,
    check_epochs,
    fuses_seeds,
    load_experiment,
    resources,
    set_threads,
)
from search.training import retrain as _retrain
from search.training.retrain import SeedStart
from search.training.teachers import cache_dir

__all__ = [
    # the steps, as the CLI's commands
    "check_report", "dashboard", "deploy", "export", "fetch_data", "load_experiment", "load_spec", "load_study",
    "local_storages", "most_accurate", "presets", "report", "retrain", "search", "stops_on_signals", "studies",
    "summary", "target_of", "teacher_cache", "trials", "worker", "default_run_folder",
    # what a caller passes in to hear of a run, and reads from what comes back
    "QUIET", "UNHEARD", "ConfirmEpoch", "ConfirmFeed", "DeployCard", "EpochResult", "Experiment", "FigureCheck",
    "INT8_DROP_WARNING", "Kind", "RetrainResult", "SearchFeed", "SearchStart", "StudyRecord", "StudySpec",
    "TinynasError", "TrialRecord", "WatcherFactory", "card_path", "is_loopback", "redact", "silent",
]  # fmt: skip


def load_spec(path: str | Path) -> StudySpec:
    """A study spec (TOML), validated; every problem is one TinynasError naming the key."""
    return _load_spec(Path(path))


@quiet()
@stop_signals_restored()
def search(
    spec: StudySpec | str | Path,
    *,
    make_watcher: WatcherFactory = silent,
    feed: SearchFeed = QUIET,
    **flags: Any,
) -> optuna.Study:
    """Run or resume a study until it holds `trials` finished trials (default: the spec's), then
    confirm its top trials if the spec's `[run] confirm` asks. `make_watcher(study)` builds, in
    each process that trains, what hears of every finished trial (a `Watcher`); `feed` hears
    where the study stands, what the --timeout cut and (`feed.confirm`) how confirmation goes.
    The keywords are `SearchFlags`' fields (trials, timeout, storage, data_dir, subset, device,
    jobs, threads, seeds_per_trial, confirm), as the CLI's flags."""
    spec = spec if isinstance(spec, StudySpec) else load_spec(spec)
    return search_study(spec, _flags(flags), make_watcher, feed)


@quiet()
@stop_signals_restored()
def worker(spec: StudySpec | str | Path, *, make_watcher: WatcherFactory = silent, **flags: Any) -> optuna.Study:
    """Join a shared study (e.g. PostgreSQL) from this machine: one process adding trials until
    the study holds `trials` finished ones; no confirmation. Keywords as `search`'s."""
    spec = spec if isinstance(spec, StudySpec) else load_spec(spec)
    return join_study(spec, _flags(flags), make_watcher)


def stops_on_signals() -> AbstractContextManager[None]:
    """A context in which SIGTERM and SIGHUP stop a call as Ctrl-C does: every worker stops, the
    trials in flight are recorded and queued again, then KeyboardInterrupt (`search.signals`
    says which signal it was). For a program run by a service manager or a scheduler."""
    return graceful_interrupts()


def _flags(given: dict[str, Any]) -> SearchFlags:
    unknown = set(given) - {f.name for f in fields(SearchFlags)}
    if unknown:
        raise TinynasError(f"unknown search option(s) {', '.join(sorted(unknown))}; use the fields of SearchFlags")
    return SearchFlags(**given)


@quiet()
def load_study(name: str, storage: str | None = None) -> optuna.Study:
    """An existing study (default storage: studies/<name>.db); never creates a database."""
    return _load_study(name, open_storage(resolve_url(storage, name), create=False))


@quiet()
def trials(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: state, accuracy, size, sampled parameters, the config flattened."""
    return trials_frame(study)


@quiet()
def export(
    study: optuna.Study,
    *,
    rule: str = "smallest",
    target: float | None = None,
    max_params: int | None = None,
    out: str | Path | None = None,
    confirm: int | None = None,
    confirm_seeds: int = 2,
    data_dir: str | Path | None = None,
    device: str = "cpu",
    threads: int | None = None,
    jobs: int | None = None,
    confirm_feed: ConfirmFeed = UNHEARD,
    force: bool = False,
) -> Experiment:
    """The trial a rule picks, as the experiment `retrain` consumes (written to `out` if given).

    With `confirm=N`, the rule's top N trials are first retrained with `confirm_seeds` fresh
    seeds on the validation split, the results recorded on the study, and the rule is
    applied to the confirmed means; the exported provenance carries searched and confirmed.
    Without `confirm`, a study whose spec confirms its own top trials (`[run] confirm`) is
    judged by those confirmations; `confirm=0` judges by the searched scores. The confirmed
    trials are spread over `jobs` worker processes (default: `resources`); `confirm_feed`
    hears how that goes. With `max_params`, only trials of at most that many parameters count
    (one budget's pick from a Pareto study; the search's own confirmations of larger trials are
    set aside). An `out` that is not an earlier export is refused unless `force`.
    """
    if max_params is not None:
        check_range("--max-params", max_params, 1, MAX_PARAMS)
    if confirm is not None:
        check_range("--confirm", confirm, 0, MAX_CONFIRM)
    check_range("--confirm-seeds", confirm_seeds, 1, MAX_SEEDS)
    where = resources(device, jobs, threads)
    if out is not None:
        check_writable(Path(out), "exported config")  # before any retraining
        check_replaceable(Path(out), "an exported config", is_export, force)
    own = searched_confirmations(study) if confirm is None and rule in ("best", "smallest") else {}
    if own and max_params is not None:
        own = {r.number: own[r.number] for r in within_params(study, max_params) if r.number in own}
    if own:
        chosen = pick_confirmed(study, rule, own, target, max_params)
        exp = experiment_for(study, chosen, own[chosen.number])
    elif confirm:
        pool = candidates(study, rule, target, confirm, max_params)
        confirmed = confirm_trials(
            study,
            pool,
            confirm_seeds,
            data_root(Path(data_dir) if data_dir else None),
            resources=where,
            feed=confirm_feed,
        )
        chosen = pick_confirmed(study, rule, confirmed, target, max_params)
        exp = experiment_for(study, chosen, confirmed[chosen.number])
    else:
        exp = experiment_for(study, pick(study, rule, target, max_params))
    if out is not None:
        write_user_file(Path(out), exp.to_json(), "exported config")
    return exp


def presets(results: str = DEFAULT_RESULTS_URL) -> pd.DataFrame:
    """The named presets: parameters, MACs, a line on each, and the final-epoch test accuracy
    of their retrains recorded in `results` (empty where none is)."""
    return presets_frame(results)


@quiet()
def report(
    study: optuna.Study,
    out: str | Path,
    *,
    results: str = DEFAULT_RESULTS_URL,
    target: float | None = None,
    force: bool = False,
) -> Path:
    """The self-contained HTML report of a study (replacing only an earlier report unless `force`)."""
    return write_report(study, results, Path(out), target, force)


@quiet()
def deploy(
    checkpoint: str | Path,
    out: str | Path = "model.onnx",
    *,
    int8: bool = False,
    data_dir: str | Path | None = None,
    threads: int | None = None,
    force: bool = False,
) -> DeployCard:
    """A `retrain` checkpoint as ONNX (BatchNorm folded, dynamic batch), and as int8 ONNX with
    `int8`, each one self-contained file checked with onnxruntime on the test images; writes a
    JSON card beside them. `threads` sets PyTorch's (export, reference predictions); the
    onnxruntime checks time one thread. Files an earlier deploy did not write are refused unless
    `force`. Needs the `deploy` extra."""
    set_threads(threads)
    root = data_root(Path(data_dir) if data_dir else None)
    return deploy_checkpoint(Path(checkpoint), Path(out), root, int8=int8, force=force)


def _seed_spread(where: Resources, threads: int | None, fused: bool | None, sequential: bool) -> tuple[Resources, bool]:
    """How a retrain's seeds train: (the resources, fused). Spread over the workers, one run
    each; or fused into one network (`fused`; by default on a GPU or with one worker) or one
    after another (`sequential`), both in this one process with the threads asked for."""
    if sequential and fused:
        raise TinynasError("--sequential and --fused are two ways to train the seeds: pass one")
    fuse = not sequential and (fused if fused is not None else fuses_seeds(where.device) or where.workers == 1)
    return (replace(where, workers=1, threads=threads) if fuse or sequential else where), fuse


def default_run_folder(exp: Experiment) -> Path:
    return Path("runs") / f"{exp.model.name or 'model'}-{exp.config_hash()[:8]}"


@quiet()
def retrain(
    experiment: Experiment | str | Path,
    *,
    seeds: int = 1,
    first_seed: int | None = None,
    epochs: int | None = None,
    out: str | Path | None = None,
    results: str = DEFAULT_RESULTS_URL,
    subset: int | None = None,
    data_dir: str | Path | None = None,
    device: str = "cpu",
    threads: int | None = None,
    jobs: int | None = None,
    fused: bool | None = None,
    sequential: bool = False,
    reporter: Reporter | None = None,
    on_seed_start: SeedStart | None = None,
    force: bool = False,
) -> RetrainResult:
    """Train on all training images, test after every epoch, per seed (`seeds` of them, counting
    up from `first_seed`, by default the recipe's); writes the run folder
    (`out`, default runs/<name>-<hash>) and records each seed in `results`. The seeds run
    spread over `jobs` worker processes (default: `resources`, one per core on a CPU),
    or as one fused network with `fused` (the default on a GPU or with one worker), or one
    after another in this process with `sequential`. The recipe's layout is honoured, so a
    run replays exactly. An `out` holding other things than a run is refused unless `force`."""
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    check_range("--seeds", seeds, 1, MAX_SEEDS)
    if epochs is not None:
        check_epochs(epochs)
    where, fuse = _seed_spread(resources(device, jobs, threads), threads, fused, sequential)
    set_threads(where.threads)
    folder = Path(out) if out is not None else default_run_folder(exp)
    retrain_records.check(results)  # where the seeds will be recorded: before any training
    run_folder.check(folder, force)
    root = data_root(Path(data_dir) if data_dir else None)
    opts = RetrainOptions(seeds, root, first_seed, epochs, subset, fused=fuse, resources=where)
    started: list[bool] = []

    def start(cfgs, n_train: int, n_test: int) -> None:  # the data is loaded: only now is the folder made
        if not started:
            run_folder.start(folder, exp)
            started.append(True)
        if on_seed_start:
            on_seed_start(cfgs, n_train, n_test)

    result = _retrain(
        exp,
        opts,
        reporter=reporter,
        on_seed_start=start,
        on_seed_end=lambda r: run_folder.save_seed(folder, exp, r, results, where.device),
    )
    run_folder.finish(folder, result)
    return result


def summary(config: str | Path) -> tuple[ModelConfig, Analysis]:
    """A preset or config JSON's model and its layer-by-layer analysis (from the config alone)."""
    model = load_experiment(config).model
    return model, analyse(model)


def fetch_data(dataset: str = "mnist", data_dir: str | Path | None = None, mirror: str | None = None) -> list[Path]:
    """Download a registered dataset's published files, each verified; files already there are kept."""
    return fetch(dataset_info(dataset), data_root(Path(data_dir) if data_dir else None), mirror)


def teacher_cache() -> Path:
    """Where trained distillation teachers are kept ($TINYNAS_CACHE, else the user's cache)."""
    return cache_dir()


def local_storages() -> list[str]:
    """sqlite URLs of the study databases in studies/ (where `search` keeps them by default)."""
    return [f"sqlite:///{path}" for path in sorted(Path(STUDIES_DIR).glob("*.db"))]


@quiet()
def studies(storage: str | None = None) -> pd.DataFrame:
    """The studies of a storage with their counts and best values (a `storage` column, its
    password hidden); without one, of $TINYNAS_STORAGE, else of every studies/*.db (files
    there that hold no study are passed over). Never creates anything."""
    given = storage or os.environ.get(STORAGE_ENV)
    frames = []
    for url in [given] if given else local_storages():
        try:
            frame = studies_frame(open_storage(url, create=False))
        except TinynasError:
            if storage:
                raise
            continue  # e.g. the retrain results database
        frames.append(frame.assign(storage=redact(url)))
    return pd.concat(frames) if frames else pd.DataFrame()


def most_accurate(study: optuna.Study) -> TrialRecord:
    """The complete trial with the best searched score."""
    return candidates(study, "best", None, 1)[0]


def target_of(study: optuna.Study) -> float:
    """The validation accuracy (%) the study's spec targets (what export's default rule meets)."""
    return study_target(study)


def check_report(report_html: str | Path, png: str | Path) -> FigureCheck:
    """Open a report in headless Chromium: every figure must draw with every point inside its
    axes (one line saying what broke, else); writes a screenshot."""
    check = check_figures(Path(report_html))
    if not check.ok:
        raise TinynasError(
            f"the report is broken in Chromium: {check.drawn} of {check.total} figures drew; "
            f"legend entries drawing nothing: {check.silent or 'none'}; "
            f"points outside the axes: {check.outside or 'none'}"
        )
    screenshot(Path(report_html), Path(png))
    return check


def dashboard(
    study: str | None = None,
    storage: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve optuna-dashboard on the storage (the study's page when one is named) until
    Ctrl-C; `on_ready(url)` once it listens. Never creates a storage."""
    opened = open_storage(resolve_url(storage, study), create=False)
    path = "/dashboard"
    if study is not None:
        _load_study(study, opened)  # a clear error for an unknown study
        path = f"/dashboard/studies/{opened.get_study_id_from_name(study)}"
    serve(opened, host, port, lambda url: on_ready(url + path) if on_ready else None)
