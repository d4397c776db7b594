"""Distillation: the loss is the formula it claims, teachers stay inside the ceilings and see
only the student's training images, and a trained teacher is reused, never retrained."""

from __future__ import annotations

import math

import pytest
import torch

from models import count_params
from search.limits import MAX_EPOCHS, MAX_PARAMS
from search.training import Experiment, TrainConfig, train_replicas
from search.training.distill import distill_loss, teacher_input
from search.training.recipe import Distill
from search.training.teachers import TEACHERS, teacher_for, teacher_spec
from tests.helpers import synthetic_split


def test_the_loss_is_the_weighted_cross_entropy_and_tempered_kl_of_its_formula() -> None:
    student = torch.tensor([[[2.0, 0.0, -1.0]]])  # (N=1, K=1, 3 classes)
    teacher = torch.tensor([[[1.0, 1.0, 0.0]]])
    label = torch.tensor([[0]])
    alpha, t = 0.25, 2.0

    def softmax(z: list[float]) -> list[float]:
        e = [math.exp(v) for v in z]
        return [v / sum(e) for v in e]

    ce = -math.log(softmax([2.0, 0.0, -1.0])[0])
    p_s, p_t = softmax([1.0, 0.0, -0.5]), softmax([0.5, 0.5, 0.0])
    kl = sum(pt * math.log(pt / ps) for pt, ps in zip(p_t, p_s, strict=True))
    expected = (1 - alpha) * ce + alpha * t * t * kl
    assert distill_loss(student, teacher, label, alpha, t).item() == pytest.approx(expected, rel=1e-6)


def test_a_student_that_agrees_with_its_teacher_pays_only_the_label_term() -> None:
    logits = torch.randn(5, 2, 10)
    labels = torch.randint(0, 10, (5, 2))
    per_replica = distill_loss(logits, logits, labels, 0.5, 4.0)
    ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view(5, 2)
    assert torch.allclose(per_replica, 0.5 * ce.mean(0), atol=1e-6)


def test_fused_images_reach_the_teacher_one_image_per_row_replica_by_replica() -> None:
    images = [torch.full((4, 1, 3, 3), float(r)) for r in range(3)]  # replica r's images hold r
    fused = torch.cat(images, dim=1)  # (N, K*C, H, W)
    rows = teacher_input(fused, 3)
    assert rows.shape == (12, 1, 3, 3)
    assert [int(rows[i, 0, 0, 0]) for i in range(6)] == [0, 1, 2, 0, 1, 2]  # row n*K + r


@pytest.mark.parametrize("name", list(TEACHERS))
def test_every_teacher_obeys_the_ceilings(name: str) -> None:
    model, recipe = teacher_spec(name)
    assert count_params(model) <= MAX_PARAMS and recipe.epochs <= MAX_EPOCHS and recipe.distill is None


def test_an_experiment_naming_an_unknown_teacher_is_refused() -> None:
    from models import preset

    with pytest.raises(ValueError, match="unknown teacher 'nobody'; choose one of: seed-8k"):
        Experiment(model=preset("compact-4k"), train=TrainConfig(distill=Distill(teacher="nobody")))


def test_a_teacher_is_trained_once_per_training_split_then_read_from_the_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TINYNAS_CACHE", str(tmp_path))
    monkeypatch.setitem(TEACHERS, "seed-8k", (TEACHERS["seed-8k"][0], TrainConfig(epochs=1)))
    train, val, other = (synthetic_split(n, seed, size=28) for n, seed in ((64, 1), (32, 2), (64, 3)))
    calls: list[int] = []
    real = train_replicas

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("search.training.teachers.train_replicas", counting)
    first = teacher_for(Distill(teacher="seed-8k"), train, val)
    again = teacher_for(Distill(teacher="seed-8k"), train, val)
    assert len(calls) == 1 and again.weights == first.weights and again.acc == first.acc
    assert first.images == train.digest and first.params == 8070
    elsewhere = teacher_for(Distill(teacher="seed-8k"), other, val)  # other images: its own teacher
    assert len(calls) == 2 and elsewhere.images != first.images
    assert not any(not p.name.endswith(".pt") for p in (tmp_path / "teachers").iterdir())  # no partial files left


def test_a_recipe_that_distils_needs_its_teacher() -> None:
    from models import cnn

    split = synthetic_split(32, 1)
    config = cnn(stages=[[4], [4]], head="conv1x1")
    with pytest.raises(ValueError, match="needs its own teacher"):
        train_replicas(config, [TrainConfig(epochs=1, distill=Distill(teacher="seed-8k"))], split, split)
