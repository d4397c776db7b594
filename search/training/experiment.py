"""What `export` writes and `retrain` reads: a model config, a training config, provenance."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from models import PRESETS, ConfigError, ModelConfig, count_params, explain
from search.errors import TinynasError, read_user_text
from search.limits import MAX_PARAMS, params_ceiling_text
from search.training.recipe import TrainConfig
from search.training.teachers import TEACHERS

SCHEMA_VERSION = 1
"""Of the experiment file (model + recipe + provenance); the model config has its own."""


class Provenance(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    study: str | None = None
    trial: int | None = None
    val_acc: float | None = None
    params: int | None = None
    macs: int | None = None
    tinynas_version: str | None = None
    date: str | None = None
    data_digest: str | None = None  # a user's own data: the content the configuration was searched on


class Experiment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[SCHEMA_VERSION] = SCHEMA_VERSION  # type: ignore[valid-type]
    dataset: str = "mnist"
    resize: tuple[int, int] | None = None
    """(height, width) the data's images are resized to as they are read (the spec's resize)."""
    model: ModelConfig
    train: TrainConfig = TrainConfig()
    provenance: Provenance = Provenance()

    @model_validator(mode="after")
    def _under_ceiling(self) -> Experiment:
        params = count_params(self.model)
        if params > MAX_PARAMS:
            raise ValueError(
                f"the model has {params:,} parameters; tinynas trains only models with {params_ceiling_text()}"
            )
        if self.train.distill is not None and self.train.distill.teacher not in TEACHERS:
            raise ValueError(f"unknown teacher {self.train.distill.teacher!r}; choose one of: {', '.join(TEACHERS)}")
        return self

    def config_hash(self) -> str:
        """Identifies the model + recipe across runs: not the seed, the layout (how the arithmetic
        was laid out, like fusion or threads) or the provenance. A distilling recipe's hash names
        its teacher, not the teacher's trained weights (those depend on the split: the records
        keep their digest)."""
        recipe = self.train.model_dump(mode="json", exclude={"seed", "layout"})
        for later, off in (("distill", None), ("flip", False)):  # recipes from before these keep their hashes
            if recipe[later] == off:
                del recipe[later]
        identity: dict[str, Any] = {"model": self.model.to_dict(), "train": recipe}
        if self.resize is not None:  # experiments from before resizing keep their hashes
            identity["resize"] = list(self.resize)
        blob = json.dumps(identity, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2)


def _validated(data: Any, where: str) -> Experiment:
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise TinynasError(f"{where}: {explain(exc, 'experiment config')}") from None


def load_experiment(source: str | Path) -> Experiment:
    """A preset name (with its searched recipe, if it has one), an exported experiment JSON, or a
    bare model config JSON."""
    if (entry := PRESETS.get(str(source))) is not None:  # a searched preset comes with the recipe it was found with
        recipe, provenance = entry.recipe or {}, entry.found or {}  # one designed by hand: the reference's recipe
        return _validated({"model": entry(), "train": recipe, "provenance": provenance}, str(source))
    path = Path(source)
    if not path.exists():
        raise TinynasError(f"{str(source)!r} is neither a preset ({', '.join(PRESETS)}) nor an existing JSON file")
    text = read_user_text(path, "config")
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TinynasError(f"{path} is not valid JSON ({exc}); pass a config written by tinynas") from None
    if not isinstance(data, dict):
        raise TinynasError(f"{path}: expected a JSON object with a model config, got {type(data).__name__}")
    if "model" not in data:  # a bare model config: default training settings
        try:
            data = {"model": ModelConfig.from_dict(data)}
        except ConfigError as exc:
            raise TinynasError(f"{path}: {exc}") from None
    return _validated(data, str(path))
