"""The trainer: reproducible, honest about what it measured, stoppable from the callback."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from models import build, fuse
from search.data import augment
from search.limits import EPOCH_CEILING, MAX_EPOCHS
from search.training import TrainConfig, train, train_replicas
from search.training.loop import evaluate


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


def test_a_run_judged_by_its_last_epochs_is_evaluated_on_those_only(tiny_model, tiny_data) -> None:
    cfg = TrainConfig(epochs=4, batch_size=64)
    every = train_replicas(tiny_model, [cfg], *tiny_data).histories[0].eval_acc
    last = train_replicas(tiny_model, [cfg], *tiny_data, judged_from=3).histories[0].eval_acc
    assert all(acc != acc for acc in last[:2]), "epochs 1-2 are not evaluated: NaN, not a number made up"
    assert last[2:] == every[2:], "skipping an evaluation changes nothing the training does"


def test_training_flushes_denormals_so_decaying_weights_cannot_slow_a_run(tiny_model, tiny_data) -> None:
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    tiny = torch.tensor([1e-39])  # a denormal float32 (made unflushed): the CPU handles such operands slowly
    assert (tiny * 1.0).item() > 0.0, "unflushed, the CPU computes with the denormal"
    during: list[float] = []
    cfg = TrainConfig(epochs=1, batch_size=64)
    train_replicas(tiny_model, [cfg], *tiny_data, on_step=lambda *_: during.append((tiny * 1.0).item()))
    assert during and set(during) == {0.0}, "while a run trains, denormals read and write as zero"
    assert (tiny * 1.0).item() > 0.0, "after it, the process computes as it did before"


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
    out = augment(x, 15.0, 0.1, 0.09, torch.Generator().manual_seed(0), background=-0.42)
    assert out.shape == x.shape
    assert torch.allclose(out[:, :, 0, 0], torch.full((16, 1), -0.42), atol=1e-5)
    assert not torch.allclose(out, x)
    assert torch.equal(augment(x, 0.0, 0.0, 0.0, torch.Generator(), background=-0.42), x)


def test_flips_mirror_about_half_the_images_and_leave_the_affine_draws_alone() -> None:
    x = torch.randn(400, 3, 8, 8)
    flipped = augment(x, 0.0, 0.0, 0.0, torch.Generator().manual_seed(0), background=0.0, flip=True)
    mirrored = [bool(torch.equal(f, o.flip(-1))) for f, o in zip(flipped, x, strict=True)]
    kept = [bool(torch.equal(f, o)) for f, o in zip(flipped, x, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True)) and 150 < sum(mirrored) < 250
    # with flips, the rotations and shifts are the ones drawn without them (the flips come after)
    plain = augment(x, 10.0, 0.1, 0.0, torch.Generator().manual_seed(1), background=0.0)
    both = augment(x, 10.0, 0.1, 0.0, torch.Generator().manual_seed(1), background=0.0, flip=True)
    assert all(torch.equal(b, p) or torch.equal(b, p.flip(-1)) for b, p in zip(both, plain, strict=True))


@pytest.mark.parametrize("scheduler", ["onecycle", "cosine", "linear"])
def test_annealing_schedules_end_near_zero(tiny_model, tiny_data, scheduler: str) -> None:
    from search.training.loop import _optimizer, _scheduler

    cfg = TrainConfig(scheduler=scheduler, lr=0.1, epochs=3, pct_start=0.3)
    model = torch.nn.Linear(2, 2)
    opt = _optimizer(cfg, model)
    sched, per_batch = _scheduler(cfg, opt, steps_per_epoch=10)
    assert per_batch
    lrs = []
    for _ in range(30):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert max(lrs) == pytest.approx(0.1, rel=0.05)
    assert lrs[-1] < 0.1 * 0.06  # the last step runs at (near) zero
    if scheduler == "linear":
        assert lrs[:9] == sorted(lrs[:9]) and lrs[9:] == sorted(lrs[9:], reverse=True)


def test_weight_decay_spares_norms_and_biases() -> None:
    from models import build, preset
    from search.training.loop import param_groups

    model = build(preset("seed-8k"))
    decayed, spared = param_groups(model, 0.01)
    assert decayed["weight_decay"] == 0.01 and spared["weight_decay"] == 0.0
    assert all(p.dim() == 4 for p in decayed["params"])  # conv weights only
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)].split(".")[-1] for p in spared["params"]} == {"weight", "bias"}  # BN scales, biases
    assert all(p.dim() == 1 for p in spared["params"])
    assert len(param_groups(model, 0.0)) == 1


def test_ema_is_the_exponential_average_of_the_weights(tiny_model, tiny_data) -> None:
    decay, raw = 0.8, []
    cfg = TrainConfig(epochs=1, batch_size=64, ema=decay)
    trained = train_replicas(
        tiny_model, [cfg], *tiny_data, on_step=lambda step, loss, model: raw.append(copy.deepcopy(model.state_dict()))
    )
    assert len(raw) == 4  # 256 images, batch 64
    expected = {name: value.clone().float() for name, value in raw[0].items()}  # the first update copies
    for n, state in enumerate(raw[1:], start=1):
        d = min(decay, (1 + n) / (10 + n))  # warmed up, so a short run does not keep its initial weights
        for name, value in state.items():
            expected[name] = d * expected[name] + (1 - d) * value.float()
    averaged = trained.models[0].state_dict()
    for name, value in expected.items():
        if not name.endswith("num_batches_tracked"):
            assert torch.allclose(averaged[name].float(), value, atol=1e-6), name
    final_raw = trained.raw[0].state_dict()
    assert not torch.equal(averaged["0.weight"], final_raw["0.weight"])  # the raw weights are kept beside it
    assert torch.equal(final_raw["0.weight"], raw[-1]["0.weight"])


def test_augmentation_settings_are_validated() -> None:
    assert TrainConfig(rotate=10, translate=0.1, scale=0.09).affine() == (10, 0.1, 0.09)
    assert TrainConfig(augment=0.5).affine() == (7.5, 0.05, 0.0)
    with pytest.raises(ValueError, match="either augment"):
        TrainConfig(augment=0.5, scale=0.1)
    with pytest.raises(ValueError, match=r"less than or equal to 0\.3"):
        TrainConfig(scale=0.5)
    with pytest.raises(ValueError, match="less than 1"):
        TrainConfig(ema=1.0)


def test_results_recorded_before_layouts_were_recorded_replay_in_theirs() -> None:
    """An experiment file without a layout was trained channels-last: it loads as such, so
    `retrain` gives its numbers again, under the configuration hash its retrains recorded."""
    from search.training import load_experiment

    results = Path(__file__).resolve().parents[2] / "studies" / "results"
    old = load_experiment(results / "sub5k-v5" / "best.json")
    assert old.train.layout == "channels_last"
    recorded = json.loads((results / "retrains" / "sub5k-v5-e15" / "summary.json").read_text())["config_hash"]
    moved = old.model_copy(update={"train": old.train.model_copy(update={"layout": "contiguous"})})
    assert old.config_hash() == moved.config_hash() == recorded


@pytest.mark.parametrize(
    ("name", "export"),
    [
        ("sub5k-t0", "sub5k-v6/best.json"),
        ("sub5k-t83", "sub5k-v5/best.json"),
        ("sub5k-t91", "cold/sub5k/best.json"),
        ("front5k-t210", "cold/front5k/best-5k.json"),
        ("front5k-t192", "cold/front5k/best-4k.json"),
        ("front5k-t264", "cold/front5k/best-3k.json"),
        ("front5k-t245", "cold/front5k/best-1k.json"),
        ("sub4k-t23", "sub4k/best.json"),
        ("sub3k-t1", "sub3k/best.json"),
        ("sub2k-t124", "cold/sub2k/best.json"),
        ("sub2k-t1", "sub2k/best.json"),
        ("sub1k-t1", "sub1k/best.json"),
    ],
)
def test_a_searched_preset_is_its_export_model_and_recipe(name: str, export: str) -> None:
    """`tinynas retrain sub5k-t83` retrains what the study exported, under the same hash."""
    from search.training import load_experiment

    exported = load_experiment(Path(__file__).resolve().parents[2] / "studies" / "results" / export)
    named = load_experiment(name)
    assert named.model == exported.model and named.train == exported.train
    assert named.config_hash() == exported.config_hash()
    assert (named.provenance.study, named.provenance.trial) == (exported.provenance.study, exported.provenance.trial)


@pytest.mark.parametrize("k", [1, 3])
def test_a_split_scored_in_batches_gives_the_numbers_of_one_pass(tiny_model, tiny_data, k: int) -> None:
    """Evaluation's batch size is a speed setting only: every image is scored once, the last
    short batch included, and each fused replica gets its own numbers."""
    torch.manual_seed(0)
    nets = [build(tiny_model) for _ in range(k)]
    net = nets[0] if k == 1 else fuse(tiny_model, nets)
    split = tiny_data[1]
    whole = evaluate(net, split, torch.contiguous_format, k, batch=len(split))
    for batch in (7, None):  # 128 images: 18 batches of 7 and a short one; the default
        scored = evaluate(net, split, torch.contiguous_format, k, batch=batch)
        assert [acc for _, acc in scored] == [acc for _, acc in whole]
        assert [loss for loss, _ in scored] == pytest.approx([loss for loss, _ in whole], rel=1e-5)
    if k > 1:
        alone = [evaluate(n, split, torch.contiguous_format)[0] for n in nets]
        assert [acc for _, acc in whole] == [acc for _, acc in alone]
