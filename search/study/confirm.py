"""Confirmation: the top trials retrained with fresh seeds on the validation split.

The best of many noisy trials is biased upward (the winner's curse); retraining the few
candidates a rule would pick, with seeds the search never used, measures the
configurations rather than their luckiest seed. The results are recorded on the study.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna

from search.data import Split, dataset_info, search_splits
from search.errors import TinynasError
from search.limits import CONFIRM_SEED_OFFSET
from search.study.objective import seed_score
from search.study.record import Confirmation, StudyRecord, TrialRecord, record_confirmation
from search.study.spec import StudySpec
from search.training import Experiment, train_replicas


def confirm_seeds(record: TrialRecord, k: int) -> list[int]:
    base = record.experiment().train.seed + CONFIRM_SEED_OFFSET
    return [base + i for i in range(k)]


def confirm_experiment(
    exp: Experiment, seeds: list[int], train: Split, val: Split, device: str = "cpu"
) -> Confirmation:
    """One configuration trained with the given seeds (fused), scored per seed as the search scores."""
    cfgs = [exp.train.model_copy(update={"seed": s}) for s in seeds]
    histories = train_replicas(exp.model, cfgs, train, val, device=device).histories
    per_seed = [seed_score(h) for h in histories]
    return Confirmation(seeds=seeds, per_seed=per_seed, mean=sum(per_seed) / len(per_seed))


def confirm(
    study: optuna.Study,
    candidates: list[TrialRecord],
    seeds: int,
    data_root: Path,
    *,
    device: str = "cpu",
    on_trial: Callable[[TrialRecord, Confirmation], None] | None = None,
) -> dict[int, Confirmation]:
    """Retrain each candidate with `seeds` fresh seeds (fused) on the study's own training and
    validation split; its score per seed is the search's (mean of the last epochs). A trial
    already confirmed with the same seeds is not trained again."""
    about = StudyRecord.of(study)
    if about.spec is None:
        raise TinynasError(f"study {study.study_name} stored no spec (made by an older tinynas?); cannot confirm")
    spec = StudySpec.model_validate(about.spec)
    train_split, val_split = search_splits(
        dataset_info(spec.dataset), data_root, spec.run.val_size, spec.seed, about.subset
    )
    done: dict[int, Confirmation] = {}
    for record in candidates:
        wanted = confirm_seeds(record, seeds)
        known = about.confirmed.get(record.number)
        if known is None or known.seeds != wanted:
            known = confirm_experiment(record.experiment(), wanted, train_split, val_split, device)
            record_confirmation(study, record.number, known)
        done[record.number] = known
        if on_trial:
            on_trial(record, known)
    return done
