"""The training layer: the recipe, the experiment file, the one training loop, retrain.

Imports the data layer and `models`; nothing from the study, outputs or CLI layers.
"""

from search.training.device import (
    ONE_PROCESS,
    Resources,
    check_threads,
    cpu_features,
    cpu_name,
    fastest_layout,
    fuses_seeds,
    resolve_device,
    resources,
    set_threads,
)
from search.training.experiment import Experiment, Provenance, load_experiment
from search.training.loop import EpochResult, History, Reporter, Trained, evaluate, train, train_replicas
from search.training.recipe import TrainConfig, check_epochs
from search.training.retrain import RetrainOptions, RetrainResult, SeedRun, retrain, seed_config

__all__ = [
    "ONE_PROCESS", "EpochResult", "Experiment", "History", "Provenance", "Reporter", "RetrainOptions", "RetrainResult", "SeedRun",
    "TrainConfig", "Trained", "check_epochs", "check_threads", "cpu_features", "cpu_name", "fuses_seeds", "resources", "Resources", "evaluate", "fastest_layout", "load_experiment", "resolve_device", "retrain", "seed_config", "set_threads", "train", "train_replicas",
]  # fmt: skip
