"""The validated training recipe: everything besides the architecture that decides a run."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from search.data.augment import MAX_ROTATION_DEG, MAX_SHIFT
from search.errors import TinynasError
from search.limits import MAX_EPOCHS, epochs_ceiling_text

Layout = Literal["channels_last", "contiguous"]
Optimizer = Literal["adam", "adamw", "sgd"]
Scheduler = Literal["none", "step", "onecycle", "cosine", "linear"]


class Distill(BaseModel):
    """Knowledge distillation from a named teacher (`search.training.teachers`): the loss is
    (1 - alpha) x cross-entropy + alpha x T^2 x KL(teacher || student) at temperature T."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A name in the teachers' registry: each teacher has its own model and recipe, both inside
    # the ceilings, and is trained on the student's own training images only.
    teacher: str = Field(min_length=1)
    # 0.5: Hinton et al.'s equal weighting of the labels and the teacher's soft targets.
    alpha: float = Field(default=0.5, gt=0, le=1)
    # 4: soft enough that the wrong classes' ranking carries information, as in most MNIST
    # and CIFAR distillation recipes; T^2 keeps the soft term's gradients on the CE scale.
    temperature: float = Field(default=4.0, ge=1, le=20)


class TrainConfig(BaseModel):
    """A recipe; the defaults are the hand-made reference's (Adam, lr 0.01, batch 64, 15 epochs),
    so a bare model config retrains exactly as the reference did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Adam: the reference's choice; it needs no momentum tuning on short schedules.
    optimizer: Optimizer = "adam"
    # 0.01: the reference's rate; high for Adam, right for BN-heavy nets this small.
    lr: float = Field(default=0.01, gt=0, le=10)
    # 0.9: the usual SGD momentum; ignored by Adam/AdamW.
    momentum: float = Field(default=0.9, ge=0, lt=1, description="sgd only")
    # Off: Nesterov only helps with momentum, and only SGD has it.
    nesterov: bool = False
    # 0: the reference used none; a model of a few thousand weights barely overfits MNIST.
    weight_decay: float = Field(default=0.0, ge=0, le=1)
    # 64: the reference's batch; small batches give more steps in a short schedule.
    batch_size: int = Field(default=64, ge=1, le=8192)
    # 15: the reference's (and the public records') budget; the hard ceiling keeps it below 20.
    epochs: int = Field(default=15, ge=1, le=MAX_EPOCHS)
    # none: the reference trained at a constant rate. onecycle, cosine and linear end at
    # (about) zero on the last step, so the final epoch is the annealed model.
    scheduler: Scheduler = "none"
    # step: decay every 5 epochs, so a 15-epoch run decays twice.
    step_size: int = Field(default=5, ge=1, description="step: epochs between decays")
    # step: x0.1 per decay, the classic ResNet factor.
    gamma: float = Field(default=0.1, gt=0, le=1, description="step: decay factor")
    # onecycle / linear: a quarter of the run warming up, as in the super-convergence paper's runs.
    pct_start: float = Field(default=0.25, gt=0, lt=1, description="onecycle and linear: warm-up fraction")
    # 0: plain cross-entropy, as the reference.
    label_smoothing: float = Field(default=0.0, ge=0, lt=0.5)
    # 0: no augmentation, as the reference. A shorthand: strength s = rotations up to 15s
    # degrees and shifts up to 10s% (no scaling); use rotate/translate/scale to set each.
    augment: float = Field(
        default=0.0, ge=0, le=1, description="0 = none, 1 = rotations up to 15 deg, shifts up to 10%"
    )
    # 0: no rotation; the public sub-5K records use 5-10 degrees.
    rotate: float = Field(default=0.0, ge=0, le=45, description="max rotation (degrees)")
    # 0: no shift; about 0.1 (10% of the side) in the public records.
    translate: float = Field(default=0.0, ge=0, le=0.3, description="max shift (fraction of the side)")
    # 0: no zoom; about 0.09 in the public records (one source: +0.08 points at the final epoch).
    scale: float = Field(default=0.0, ge=0, le=0.3, description="max zoom in or out (fraction)")
    # Off: a mirrored digit or letter is another symbol. For natural images (CIFAR-10, photos)
    # half the training images mirrored left to right is the usual first augmentation.
    flip: bool = Field(default=False, description="mirror half the training images left to right")
    # 0 (off): evaluate the raw weights, as the reference. E.g. 0.999: an exponential moving
    # average of weights and BN buffers, evaluated and checkpointed instead of the raw ones.
    ema: float = Field(default=0.0, ge=0, lt=1, description="EMA decay of the weights (0 = off)")
    # 0: seeds are counted from here; retrain's seed i runs seed + i.
    seed: int = Field(default=0, ge=0)
    # The memory layout of activations: it changes which kernels run, so the arithmetic (and
    # the last digits of every result). channels_last: the layout of every result recorded
    # before this field existed, so their files replay exactly; a search writes the layout
    # measured fastest for its device into each trial (`device.fastest_layout`).
    layout: Layout = "channels_last"
    # None: no teacher, as the reference. Otherwise the student also learns the teacher's
    # soft targets on the very images (and augmentations) it trains on.
    distill: Distill | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError("nesterov needs optimizer = 'sgd' with momentum > 0")
        if self.augment > 0 and (self.rotate or self.translate or self.scale):
            raise ValueError("use either augment (a shorthand) or rotate / translate / scale, not both")
        return self

    def affine(self) -> tuple[float, float, float]:
        """(max rotation in degrees, max shift as a fraction, max zoom as a fraction)."""
        if self.augment > 0:
            return MAX_ROTATION_DEG * self.augment, MAX_SHIFT * self.augment, 0.0
        return self.rotate, self.translate, self.scale


def check_epochs(epochs: int) -> int:
    """An epochs override (`retrain --epochs`), refused in one line at or above the epoch ceiling."""
    if not 1 <= epochs <= MAX_EPOCHS:
        raise TinynasError(f"--epochs {epochs}: tinynas trains for 1 to {MAX_EPOCHS} epochs ({epochs_ceiling_text()})")
    return epochs
