"""Named distillation teachers (a model preset and its recipe, both inside the ceilings),
trained once per training split and kept in a cache folder.

A teacher only ever sees the images its student trains on: `teacher_for` trains it on the
very split the student gets (the search's training split, or all training images for a
retrain), and the cache is keyed by a digest of those images, so a teacher is never reused
across splits.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from models import ModelConfig, build, count_params, preset
from search.data.splits import Split
from search.errors import TinynasError
from search.limits import MAX_PARAMS
from search.training.cache import CACHE_FIX, cache_folder, keep, writable
from search.training.distill import Teacher, weights_digest
from search.training.loop import MEMORY_FORMATS, evaluate, train_replicas
from search.training.recipe import Distill, TrainConfig

_ANNEALED = TrainConfig(
    lr=0.01,
    batch_size=64,
    epochs=19,
    scheduler="linear",
    pct_start=0.2,
    ema=0.999,
    rotate=7.0,
    translate=0.08,
    scale=0.09,
)
"""The teachers' recipe: the annealed recipe of the searched sub-5K models (linear warm-up and
decay to zero, weight EMA, the public records' affine augmentation) at the most epochs the
ceiling allows; a teacher is trained once per split, so its epochs are cheap."""

TEACHERS: dict[str, tuple[str, TrainConfig]] = {
    "seed-8k": ("seed-8k", _ANNEALED),
    "teacher-17k": ("teacher-17k", _ANNEALED),
}
"""Teacher name -> (model preset, recipe)."""


def teacher_spec(name: str) -> tuple[ModelConfig, TrainConfig]:
    try:
        model_name, recipe = TEACHERS[name]
    except KeyError:
        raise TinynasError(f"unknown teacher {name!r}; choose one of: {', '.join(TEACHERS)}") from None
    model = preset(model_name)
    if count_params(model) > MAX_PARAMS or recipe.distill is not None:  # guarded by a unit test too
        raise TinynasError(f"teacher {name!r} breaks the ceilings or distils itself")
    return model, recipe


def cache_dir() -> Path:
    return cache_folder("teachers")


def _key(name: str, model: ModelConfig, recipe: TrainConfig, images: str) -> str:
    import hashlib

    blob = json.dumps(
        {"name": name, "model": model.to_dict(), "recipe": recipe.model_dump(mode="json"), "images": images},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _load(path: Path, name: str, model: ModelConfig, images: str, device: torch.device) -> Teacher | None:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        module = build(model)
        module.load_state_dict(saved["state_dict"])
    except Exception:  # a partial or foreign file: train again
        return None
    if weights_digest(module) != saved["weights"]:
        return None
    return Teacher(name, module.to(device).eval(), saved["weights"], images, count_params(model), float(saved["acc"]))


def teacher_for(distill: Distill, train: Split, eval_split: Split, device: torch.device | str = "cpu") -> Teacher:
    """The named teacher trained on `train` (from the cache, else trained now and cached),
    its accuracy measured on `eval_split`, in evaluation mode on `device`."""
    device = torch.device(device)
    model, recipe = teacher_spec(distill.teacher)
    images = train.digest
    path = cache_dir() / f"{distill.teacher}-{_key(distill.teacher, model, recipe, images)}.pt"
    if path.exists() and (found := _load(path, distill.teacher, model, images, device)) is not None:
        return found
    writable(path.parent, "teacher cache")  # before the teacher trains, not after
    trained = train_replicas(model, [recipe], train, None, device=device)  # judged once, below
    ((_, acc),) = evaluate(trained.models[0], eval_split.to(device), MEMORY_FORMATS[recipe.layout])
    module = trained.models[0].cpu()
    weights = weights_digest(module)
    try:
        keep({"state_dict": module.state_dict(), "weights": weights, "acc": acc, "images": images}, path)
    except OSError as exc:  # e.g. the disk filled while it trained
        raise TinynasError(f"cannot keep the trained teacher in {path.parent}: {exc.strerror}; {CACHE_FIX}") from None
    return Teacher(distill.teacher, module.to(device).eval(), weights, images, count_params(model), acc)


def teacher_of(
    recipe: TrainConfig, train: Split, eval_split: Split, device: torch.device | str = "cpu"
) -> Teacher | None:
    """The teacher a recipe distils from (None when it does not distil)."""
    return None if recipe.distill is None else teacher_for(recipe.distill, train, eval_split, device)
