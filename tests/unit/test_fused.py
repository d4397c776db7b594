"""Fused replicas: K seeds trained as one network follow the K standalone runs step by step."""

from __future__ import annotations

import pytest
import torch

from models import ModelConfig, build, cnn, fuse, unfuse
from search.training import TrainConfig
from search.training.distill import Teacher
from search.training.loop import train_replicas
from search.training.recipe import Distill
from tests.helpers import synthetic_split

SEEDS = [3, 4, 5]
STEPS = 50
EPS64 = torch.finfo(torch.float64).eps
AGREE = 1e6 * EPS64
"""How far a fused replica may drift from its standalone run, relative. The two differ only in
the order of their sums (grouped vs plain convs, and however many threads split a reduction),
so in float64 each op's rounding is ~EPS64; 50 steps of Adam (which divides by a running RMS)
amplify it by far less than 1e6 (measured: about 2e3 on parameters, 15 on losses). A real divergence (a wrong seed, data
order or channel group) shows from the first steps at 1e-3 and above, 1e7 times this bound.
In float32 the same reduction-order noise reaches 1e-4 after 50 steps and depends on the
thread count, so the step-by-step comparison runs in float64."""


@pytest.fixture(autouse=True)
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def small(head: str, kinds: str | list[str] = "full") -> ModelConfig:
    """Conv biases only where ReLU comes before BN (as in seed-8k): a bias right before BN has
    no effect on the output, so Adam drives it by float noise alone, fused or not."""
    return cnn(
        stages=[[4, 6], [6]],
        kinds=kinds,
        tail=[4] if head != "gap" else [2],
        head=head,
        bias=head == "gap",
        order="relu-bn" if head == "gap" else "bn-relu",
        transitions=[4],
        shared=[0, 2],
        num_classes=2,
        input_shape=(1, 8, 8),
    )


def test_fuse_then_unfuse_gives_back_each_replica() -> None:
    config = small("linear")
    replicas = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        replicas.append(build(config).eval())
    fused = fuse(config, replicas).eval()
    xs = [torch.randn(7, 1, 8, 8) for _ in SEEDS]
    out = fused(torch.cat(xs, dim=1))
    assert out.shape == (7, len(SEEDS), 2)
    for k, (replica, x) in enumerate(zip(replicas, xs, strict=True)):
        assert torch.allclose(out[:, k], replica(x), atol=1e-6)
        assert torch.allclose(unfuse(config, fused, k).eval()(x), replica(x), atol=1e-6)


def run_steps(
    config: ModelConfig, cfgs: list[TrainConfig], teacher: Teacher | None = None
) -> tuple[list, torch.Tensor]:
    losses: list[torch.Tensor] = []
    split = synthetic_split(STEPS * cfgs[0].batch_size, seed=1)
    trained = train_replicas(
        config,
        cfgs,
        split,
        synthetic_split(64, seed=2),
        on_step=lambda step, loss, model: losses.append(loss.clone()),
        teacher=teacher,
    )
    return trained.models, torch.stack(losses)


def a_teacher() -> Teacher:
    torch.manual_seed(9)
    module = build(cnn(stages=[[8], [8]], head="conv1x1", num_classes=2, input_shape=(1, 8, 8))).eval()
    return Teacher("seed-8k", module, "", "", 0, 0.0)


@pytest.mark.parametrize(
    ("head", "recipe"),
    [
        ("conv1x1", {"optimizer": "adam", "lr": 0.02}),
        ("linear", {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.01, "augment": 0.5, "scheduler": "onecycle"}),
        ("gap", {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "label_smoothing": 0.1}),
        ("gap", {"optimizer": "adam", "lr": 0.01, "scheduler": "step", "step_size": 1, "augment": 1.0}),
    ],
)
def test_fused_run_agrees_with_standalone_runs_step_by_step(head: str, recipe: dict) -> None:
    config = small(head)
    check_fused_against_standalone(config, [TrainConfig(epochs=1, batch_size=16, seed=s, **recipe) for s in SEEDS])


def test_separable_and_grouped_stages_and_a_teacher_fuse_the_same_way() -> None:
    """Each replica sees the teacher's logits for its own augmented images, and grouped convs
    fuse into K times the groups: still step by step the standalone runs."""
    config = small("conv1x1", kinds=["separable", "grouped"])
    recipe = {"lr": 0.02, "augment": 0.5, "distill": Distill(teacher="seed-8k", alpha=0.7, temperature=3.0)}
    check_fused_against_standalone(
        config, [TrainConfig(epochs=1, batch_size=16, seed=s, **recipe) for s in SEEDS], a_teacher()
    )


def check_fused_against_standalone(
    config: ModelConfig, cfgs: list[TrainConfig], teacher: Teacher | None = None
) -> None:
    fused_models, fused_losses = run_steps(config, cfgs, teacher)
    assert fused_losses.shape == (STEPS, len(SEEDS))
    for k, cfg in enumerate(cfgs):
        (alone,), alone_losses = run_steps(config, [cfg], teacher)
        assert fused_losses.dtype == torch.float64
        assert torch.allclose(fused_losses[:, k], alone_losses[:, 0], rtol=AGREE, atol=AGREE), k
        for (name, a), b in zip(alone.state_dict().items(), fused_models[k].state_dict().values(), strict=True):
            assert torch.allclose(a, b, rtol=AGREE, atol=AGREE), (k, name)


def test_replicas_must_share_their_recipe() -> None:
    config = small("conv1x1")
    split = synthetic_split(32, seed=1)
    with pytest.raises(ValueError, match="only the seed may differ"):
        train_replicas(config, [TrainConfig(seed=0, epochs=1), TrainConfig(seed=1, lr=0.5, epochs=1)], split, split)
    with pytest.raises(ValueError, match="distinct seeds"):
        train_replicas(config, [TrainConfig(seed=0, epochs=1)] * 2, split, split)
