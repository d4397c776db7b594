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

import signal
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from search.data import data_root
from search.errors import TinynasError, check_range, check_replaceable, check_writable, write_user_file
from search.limits import DEFAULT_RESULTS_URL, MAX_CONFIRM, MAX_SEEDS
from search.outputs import experiment_for, pick, retrain_records, run_folder, write_report
from search.outputs.deploy import DeployCard, deploy_checkpoint
from search.outputs.export import candidates, is_export, pick_confirmed, searched_confirmations
from search.outputs.presets_table import presets_frame
from search.quiet import quiet
from search.study import (
    ConfirmFeed,
    SearchFlags,
    StudySpec,
    WatcherFactory,
    confirm_best,
    open_storage,
    prepare,
    resolve_options,
    resolve_url,
    run,
    silent,
    trials_frame,
)
from search.study import load_spec as _load_spec
from search.study import load_study as _load_study
from search.study.confirm import UNHEARD
from search.study.confirm import confirm as confirm_trials
from search.training import (
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


def load_spec(path: str | Path) -> StudySpec:
    """A study spec (TOML), validated; every problem is one TinynasError naming the key."""
    return _load_spec(Path(path))


@quiet()
def search(
    spec: StudySpec | str | Path,
    *,
    make_watcher: WatcherFactory = silent,
    confirm_feed: ConfirmFeed = UNHEARD,
    **flags: Any,
) -> optuna.Study:
    """Run or resume a study until it holds `trials` finished trials (default: the spec's), then
    confirm its top trials if the spec's `[run] confirm` asks. `make_watcher(study)` builds, in
    each process that trains, what hears of every finished trial (a `Watcher`); `confirm_feed`
    hears how confirmation goes. The keywords are `SearchFlags`' fields (trials, timeout,
    storage, data_dir, subset, device, jobs, threads, seeds_per_trial), as the CLI's flags."""
    spec = spec if isinstance(spec, StudySpec) else load_spec(spec)
    unknown = set(flags) - {f.name for f in fields(SearchFlags)}
    if unknown:
        raise TinynasError(f"unknown search option(s) {', '.join(sorted(unknown))}; use the fields of SearchFlags")
    opts = resolve_options(spec, SearchFlags(**flags))
    study, ctx = prepare(spec, opts)
    handler = signal.getsignal(signal.SIGINT)
    try:
        run(study, ctx, opts, make_watcher)
        confirm_best(study, spec, opts, confirm_feed)
    finally:  # Ctrl-C stops the search; the notebook's own Ctrl-C works again afterwards
        signal.signal(signal.SIGINT, handler)
    return study


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
    hears how that goes. An `out` that is not an earlier export is refused unless `force`.
    """
    if confirm is not None:
        check_range("--confirm", confirm, 0, MAX_CONFIRM)
    check_range("--confirm-seeds", confirm_seeds, 1, MAX_SEEDS)
    where = resources(device, jobs, threads)
    if out is not None:
        check_writable(Path(out), "exported config")  # before any retraining
        check_replaceable(Path(out), "an exported config", is_export, force)
    own = searched_confirmations(study) if confirm is None and rule in ("best", "smallest") else {}
    if own:
        chosen = pick_confirmed(study, rule, own, target)
        exp = experiment_for(study, chosen, own[chosen.number])
    elif confirm:
        pool = candidates(study, rule, target, confirm)
        confirmed = confirm_trials(
            study,
            pool,
            confirm_seeds,
            data_root(Path(data_dir) if data_dir else None),
            resources=where,
            feed=confirm_feed,
        )
        chosen = pick_confirmed(study, rule, confirmed, target)
        exp = experiment_for(study, chosen, confirmed[chosen.number])
    else:
        exp = experiment_for(study, pick(study, rule, target))
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
