"""The study layer: specs, the search space, the objective, pruning, storage, the trial
record and running a study. Imports the training and data layers; never outputs or CLI."""

from search.study.confirm import ConfirmEpoch, ConfirmFeed, ConfirmRun, confirm_best, confirm_experiment, confirm_plan
from search.study.feasibility import check_space
from search.study.frames import pareto_front, studies_frame, trials_frame
from search.study.objective import seed_score
from search.study.options import SearchFlags, SearchOptions, resolve_options, time_left
from search.study.record import Kind, StudyRecord, TrialRecord, complete_records, records
from search.study.runner import Watcher, WatcherFactory, open_study, optimize, prepare, run, silent
from search.study.session import QUIET, SearchFeed, SearchStart, join_study, search_study
from search.study.space import TrialSuggest, sample_model, sample_train
from search.study.spec import StudySpec, load_spec, parse_duration
from search.study.stopping import finished
from search.study.storage import load_study, open_storage, redact, resolve_url

__all__ = [
    "QUIET", "SearchFeed", "SearchStart", "join_study", "search_study", "ConfirmEpoch", "ConfirmFeed", "ConfirmRun", "Kind", "SearchFlags", "SearchOptions", "StudyRecord", "StudySpec", "TrialRecord", "TrialSuggest", "Watcher", "check_space",
    "complete_records", "confirm_best", "confirm_experiment", "confirm_plan", "finished", "load_spec", "load_study", "open_storage", "open_study", "optimize",
    "pareto_front", "parse_duration", "prepare", "records", "redact", "resolve_options", "resolve_url", "run", "sample_model",
    "sample_train", "seed_score", "silent", "studies_frame", "time_left", "trials_frame", "WatcherFactory",
]  # fmt: skip
