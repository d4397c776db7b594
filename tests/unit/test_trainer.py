"""The trainer: reproducible, honest about what it measured, stoppable from the callback."""

from __future__ import annotations

import pytest
import torch

from search.data import augment
from search.limits import EPOCH_CEILING, MAX_EPOCHS
from search.training import TrainConfig, train


def test_same_config_and_seed_give_identical_metrics(tiny_model, tiny_data) -> None:
    cfg = TrainConfig(epochs=3, batch_size=32, augment=0.5, scheduler="onecycle")
    _, first = train(tiny_model, cfg, *tiny_data)
    _, second = train(tiny_model, cfg, *tiny_data)
    assert first.as_records() != [] and [
        {k: v for k, v in r.items() if k != "seconds"} for r in first.as_records()
    ] == [{k: v for k, v in r.items() if k != "seconds"} for r in second.as_records()]
    _, other_seed = train(tiny_model, cfg.model_copy(update={"seed": 1}), *tiny_data)
    assert other_seed.eval_acc != first.eval_acc or other_seed.epochs[0].train_loss != first.epochs[0].train_loss


@pytest.mark.parametrize("scheduler", ["none", "step", "onecycle", "cosine"])
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_every_recipe_learns_an_easy_task(tiny_model, tiny_data, optimizer: str, scheduler: str) -> None:
    lr = 0.05 if optimizer == "sgd" else 0.02
    cfg = TrainConfig(optimizer=optimizer, scheduler=scheduler, lr=lr, epochs=4, batch_size=32, step_size=2)
    _, history = train(tiny_model, cfg, *tiny_data)
    assert [e.epoch for e in history.epochs] == [1, 2, 3, 4]
    assert history.final_acc > 90.0


def test_callback_sees_every_epoch_and_can_stop_training(tiny_model, tiny_data) -> None:
    seen: list[int] = []

    class Stop(Exception):
        pass

    def on_epoch(result) -> None:
        seen.append(result.epoch)
        if result.epoch == 2:
            raise Stop

    with pytest.raises(Stop):
        train(tiny_model, TrainConfig(epochs=5, batch_size=32), *tiny_data, on_epoch=on_epoch)
    assert seen == [1, 2]


def test_history_rules(tiny_model, tiny_data) -> None:
    _, history = train(tiny_model, TrainConfig(epochs=4, batch_size=64), *tiny_data)
    acc = history.eval_acc
    assert history.final_acc == acc[-1]
    assert history.last_min(3) == min(acc[-3:])
    assert history.last_mean(2) == pytest.approx((acc[-1] + acc[-2]) / 2)


def test_epochs_are_capped_below_20() -> None:
    with pytest.raises(ValueError, match=f"less than or equal to {MAX_EPOCHS}"):
        TrainConfig(epochs=EPOCH_CEILING)


def test_augmentation_keeps_shape_and_background() -> None:
    x = torch.full((16, 1, 28, 28), -0.42)
    x[:, :, 10:18, 10:18] = 2.0
    out = augment(x, 1.0, torch.Generator().manual_seed(0), background=-0.42)
    assert out.shape == x.shape
    assert torch.allclose(out[:, :, 0, 0], torch.full((16, 1), -0.42), atol=1e-5)
    assert not torch.allclose(out, x)
    assert torch.equal(augment(x, 0.0, torch.Generator(), background=-0.42), x)
