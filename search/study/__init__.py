"""The study layer: specs, the search space, the objective, pruning, storage, the trial
record and running a study. Imports the training and data layers; never outputs or CLI."""

from search.study.confirm import confirm_experiment
from search.study.frames import studies_frame, trials_frame
from search.study.objective import seed_score
from search.study.record import Kind, StudyRecord, TrialRecord, complete_records, records
from search.study.runner import (
    SearchFlags,
    SearchOptions,
    Watcher,
    check_space,
    finished,
    open_study,
    optimize,
    prepare,
    resolve_options,
    run,
)
from search.study.space import TrialSuggest, sample_model, sample_train
from search.study.spec import StudySpec, load_spec, parse_duration
from search.study.storage import load_study, open_storage, redact, resolve_url

__all__ = [
    "Kind", "SearchFlags", "SearchOptions", "StudyRecord", "StudySpec", "TrialRecord", "TrialSuggest", "Watcher", "check_space",
    "complete_records", "confirm_experiment", "finished", "load_spec", "load_study", "open_storage", "open_study", "optimize",
    "parse_duration", "prepare", "records", "redact", "resolve_options", "resolve_url", "run", "sample_model",
    "sample_train", "seed_score", "studies_frame", "trials_frame",
]  # fmt: skip
