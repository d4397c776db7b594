"""The validated training recipe: everything besides the architecture that decides a run."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_EPOCHS = 19
"""The mission's hard ceiling: every model trains for fewer than 20 epochs."""


class TrainConfig(BaseModel):
    """Defaults are the reference model's recipe (Adam, lr 0.01, batch 64, 15 epochs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(default=0.01, gt=0, le=10)
    momentum: float = Field(default=0.9, ge=0, lt=1, description="sgd only")
    nesterov: bool = False
    weight_decay: float = Field(default=0.0, ge=0, le=1)
    batch_size: int = Field(default=64, ge=1, le=8192)
    epochs: int = Field(default=15, ge=1, le=MAX_EPOCHS)
    scheduler: Literal["none", "step", "onecycle", "cosine"] = "none"
    step_size: int = Field(default=5, ge=1, description="step: epochs between decays")
    gamma: float = Field(default=0.1, gt=0, le=1, description="step: decay factor")
    pct_start: float = Field(default=0.25, gt=0, lt=1, description="onecycle: warm-up fraction")
    label_smoothing: float = Field(default=0.0, ge=0, lt=0.5)
    augment: float = Field(
        default=0.0, ge=0, le=1, description="0 = none, 1 = rotations up to 15 deg, shifts up to 10%"
    )
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError("nesterov needs optimizer = 'sgd' with momentum > 0")
        return self
