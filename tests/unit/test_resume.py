"""A run cut short resumes from its last finished epoch and ends exactly where an uncut run
ends; its saved state lives only as long as something may take it up."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models import BatchNorm, Conv, Dropout, GlobalAvgPool, MaxPool, ModelConfig, ReLU
from search.training import TrainConfig, train_replicas
from search.training.checkpoint import resumable

MODEL = ModelConfig(
    input_shape=(1, 8, 8),
    num_classes=2,
    layers=(
        Conv(out=4),
        BatchNorm(),
        ReLU(),
        Dropout(p=0.2),
        MaxPool(),
        Conv(out=2, kernel=1, padding=0),
        GlobalAvgPool(),
    ),
)
"""Dropout draws from the global random stream: a resumed run must restore that too."""

RECIPE = TrainConfig(
    epochs=4, batch_size=32, lr=0.02, scheduler="onecycle", ema=0.999, rotate=10.0, translate=0.1, label_smoothing=0.05
)


class Cut(BaseException):
    """Stands in for Ctrl-C or a deadline: a BaseException that is not an Exception."""


def _run(data, seeds: list[int], folder: Path | None, cut_after: int | None = None, recipe: TrainConfig = RECIPE):
    """(the run, the epochs on_epoch saw, the training steps taken)."""
    seen: list[int] = []
    steps: list[int] = []

    def on_epoch(results) -> None:
        seen.append(results[0].epoch)
        if results[0].epoch == cut_after:
            raise Cut

    cfgs = [recipe.model_copy(update={"seed": s}) for s in seeds]
    kwargs = {"on_epoch": on_epoch, "on_step": lambda *_: steps.append(1)}
    if folder is None:
        return train_replicas(MODEL, cfgs, *data, **kwargs), seen, len(steps)
    with resumable(folder) as states:
        return train_replicas(MODEL, cfgs, *data, states=states, **kwargs), seen, len(steps)


def _same(a, b) -> None:
    drop = lambda records: [{k: v for k, v in r.items() if k != "seconds"} for r in records]  # noqa: E731
    assert [drop(h.as_records()) for h in a.histories] == [drop(h.as_records()) for h in b.histories]
    for ma, mb in zip(a.models + a.raw, b.models + b.raw, strict=True):
        for (name, ta), tb in zip(ma.state_dict().items(), mb.state_dict().values(), strict=True):
            assert torch.equal(ta, tb), name


@pytest.mark.parametrize("seeds", [[0], [0, 1]], ids=["one replica", "two fused"])
def test_a_run_cut_short_resumes_from_its_last_epoch_and_ends_as_an_uncut_run(tiny_data, tmp_path, seeds) -> None:
    uncut, _, all_steps = _run(tiny_data, seeds, None)
    with pytest.raises(Cut):
        _run(tiny_data, seeds, tmp_path, cut_after=2)
    assert len(list(tmp_path.iterdir())) == 1, "an interrupted run keeps its state"
    resumed, seen, steps = _run(tiny_data, seeds, tmp_path)
    assert seen == [1, 2, 3, 4], "the finished epochs are handed on again, then the rest"
    assert steps == all_steps // 2 and resumed.taken_up == 2, "only epochs 3 and 4 were trained"
    _same(resumed, uncut)
    assert list(tmp_path.iterdir()) == [], "a run that ended leaves nothing behind"


def test_a_state_is_taken_up_only_by_the_same_run(tiny_data, tmp_path) -> None:
    with pytest.raises(Cut):
        _run(tiny_data, [0], tmp_path, cut_after=2)
    _, seen, _ = _run(tiny_data, [1], tmp_path)  # another seed: another run
    assert seen == [1, 2, 3, 4]
    _, _, steps = _run(tiny_data, [0], tmp_path, recipe=RECIPE.model_copy(update={"lr": 0.01}))
    _, _, all_steps = _run(tiny_data, [0], None)
    assert steps == all_steps, "another recipe trains from its first epoch"


def test_work_that_ends_by_an_error_or_pruning_leaves_no_state(tiny_data, tmp_path) -> None:
    class Pruned(Exception):
        pass

    with pytest.raises(Pruned), resumable(tmp_path) as states:
        cfg = RECIPE.model_copy(update={"seed": 0})
        train_replicas(MODEL, [cfg], *tiny_data, states=states, on_epoch=lambda r: (_ for _ in ()).throw(Pruned()))
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_state_is_ignored_and_the_run_starts_over(tiny_data, tmp_path) -> None:
    uncut, _, all_steps = _run(tiny_data, [0], None)
    with pytest.raises(Cut):
        _run(tiny_data, [0], tmp_path, cut_after=2)
    (state,) = tmp_path.iterdir()
    state.write_bytes(b"not a checkpoint")
    resumed, seen, steps = _run(tiny_data, [0], tmp_path)
    assert (seen, steps) == ([1, 2, 3, 4], all_steps)
    _same(resumed, uncut)
