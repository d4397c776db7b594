"""The layers an architecture is made of, each knowing its own geometry.

Geometry (output shape, parameters, MACs, receptive-field growth) lives on the layer
specs themselves so that analysis never needs to build a module, and so the builder and
the analysis can only disagree if a test catches it.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

Shape = tuple[int, ...]
"""(C, H, W) for feature maps, (F,) after a flatten."""

MAX_SHARED_REPEATS = 8
"""Applications of one shared-weight conv: past a handful the BN steps cost more than the depth buys."""


Order = Literal["bn-relu", "relu-bn"]
"""Where BatchNorm sits in a conv block: before the ReLU (the usual) or after it."""


class _Layer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    in_place: ClassVar[bool] = False
    """Elementwise at inference (BatchNorm, ReLU, dropout): a runtime applies it to the buffer
    it reads, so it holds no second activation buffer."""

    def out_shape(self, shape: Shape) -> Shape:
        return shape

    def params(self, shape: Shape) -> int:
        return 0

    def weights(self, shape: Shape) -> int:
        """The parameters that are a kernel or a matrix (stored as int8 when deployed); the rest
        of `params` are per-channel vectors (biases, BatchNorm scale and shift)."""
        return 0

    def macs(self, shape: Shape) -> int:
        return 0

    def window(self, shape: Shape) -> tuple[int, int]:
        """(kernel, stride) seen by the receptive-field recurrence."""
        return 1, 1

    def label(self, shape: Shape) -> str:
        return self.type  # type: ignore[attr-defined]


def _spatial(shape: Shape, what: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(f"{what} needs a C x H x W feature map, got shape {shape}")
    return shape


class Conv(_Layer):
    """A 2-D convolution; kernel 1 (a channel 'transition') or 3. With groups > 1 the channels
    split into that many groups, each output group seeing only its own input group: groups =
    channels in = channels out is a depthwise conv (one 3x3 filter per channel), which a 1x1
    conv after it makes a depthwise-separable pair."""

    type: Literal["conv"] = "conv"
    out: int = Field(ge=1, le=1024)
    kernel: Literal[1, 3] = 3
    padding: Literal[0, 1] = 1
    bias: bool = True
    groups: int = Field(default=1, ge=1, le=1024)

    @model_serializer(mode="wrap")
    def _without_one_group(self, handler: SerializerFunctionWrapHandler) -> dict:
        """A plain conv is written as before groups existed: its files and config hashes stay."""
        data = handler(self)
        if data.get("groups") == 1:
            del data["groups"]
        return data

    def out_shape(self, shape: Shape) -> Shape:
        c, h, w = _spatial(shape, "conv")
        if c % self.groups or self.out % self.groups:
            raise ValueError(f"groups {self.groups} must divide the channels in ({c}) and out ({self.out})")
        size = (h + 2 * self.padding - self.kernel + 1, w + 2 * self.padding - self.kernel + 1)
        if min(size) < 1:
            k, p = self.kernel, self.padding
            raise ValueError(f"conv {k}x{k} pad {p} on {h}x{w} leaves no output")
        return (self.out, *size)

    def params(self, shape: Shape) -> int:
        return self.weights(shape) + (self.out if self.bias else 0)

    def weights(self, shape: Shape) -> int:
        return shape[0] // self.groups * self.out * self.kernel**2

    def macs(self, shape: Shape) -> int:
        _, h, w = self.out_shape(shape)
        return shape[0] // self.groups * self.out * self.kernel**2 * h * w

    def window(self, shape: Shape) -> tuple[int, int]:
        return self.kernel, 1

    def depthwise(self, shape: Shape) -> bool:
        return self.groups > 1 and self.groups == shape[0] == self.out

    def label(self, shape: Shape) -> str:
        b = "" if self.bias else ", no bias"
        k = self.kernel
        g = ", depthwise" if self.depthwise(shape) else f", groups {self.groups}" if self.groups > 1 else ""
        return f"Conv2d {shape[0]}->{self.out}, {k}x{k}, pad {self.padding}{g}{b}"


class SharedConv(_Layer):
    """One padded 3x3 conv (C -> C) applied `repeats` times with the same weights, each
    application followed by its own BatchNorm and ReLU (in `order`).

    Depth and receptive field without parameters: the conv's weights are paid once, only
    the per-application BatchNorm scale and shift are paid per step (the shared-weight
    convs of the public sub-5K searches). MACs are paid per application.
    """

    type: Literal["shared"] = "shared"
    repeats: int = Field(ge=2, le=MAX_SHARED_REPEATS, description="applications; 1 is a plain conv block")
    bias: bool = False
    order: Order = "bn-relu"

    def out_shape(self, shape: Shape) -> Shape:
        return _spatial(shape, "shared conv")

    def params(self, shape: Shape) -> int:
        c = shape[0]
        return self.weights(shape) + (c if self.bias else 0) + self.repeats * 2 * c

    def weights(self, shape: Shape) -> int:
        return shape[0] * shape[0] * 9

    def macs(self, shape: Shape) -> int:
        c, h, w = shape
        return self.repeats * c * c * 9 * h * w

    def window(self, shape: Shape) -> tuple[int, int]:
        return 1 + 2 * self.repeats, 1  # each padded 3x3 application widens the field by 2 steps

    def label(self, shape: Shape) -> str:
        b = "" if self.bias else ", no bias"
        return f"Conv2d {shape[0]}->{shape[0]}, 3x3, pad 1{b}, shared x{self.repeats} (own BN each)"


class BatchNorm(_Layer):
    type: Literal["bn"] = "bn"
    in_place: ClassVar[bool] = True

    def params(self, shape: Shape) -> int:
        return 2 * shape[0]

    def label(self, shape: Shape) -> str:
        return f"BatchNorm2d({shape[0]})"


class ReLU(_Layer):
    type: Literal["relu"] = "relu"
    in_place: ClassVar[bool] = True

    def label(self, shape: Shape) -> str:
        return "ReLU"


class MaxPool(_Layer):
    """2x2 max-pool with stride 2 (floor), the only pooling tiny MNIST nets need."""

    type: Literal["maxpool"] = "maxpool"

    def out_shape(self, shape: Shape) -> Shape:
        c, h, w = _spatial(shape, "maxpool")
        if min(h, w) < 2:
            raise ValueError(f"maxpool on {h}x{w} leaves no output")
        return (c, h // 2, w // 2)

    def window(self, shape: Shape) -> tuple[int, int]:
        return 2, 2

    def label(self, shape: Shape) -> str:
        return "MaxPool 2"


class Dropout(_Layer):
    type: Literal["dropout"] = "dropout"
    in_place: ClassVar[bool] = True
    p: float = Field(ge=0.0, lt=1.0)

    def label(self, shape: Shape) -> str:
        return f"Dropout {self.p:g}"


class GlobalAvgPool(_Layer):
    type: Literal["gap"] = "gap"

    def out_shape(self, shape: Shape) -> Shape:
        c, _, _ = _spatial(shape, "gap")
        return (c, 1, 1)

    def window(self, shape: Shape) -> tuple[int, int]:
        return shape[1], 1

    def label(self, shape: Shape) -> str:
        return "AdaptiveAvgPool 1"


class Linear(_Layer):
    """A fully connected head on a 1x1 map (after global average pooling)."""

    type: Literal["linear"] = "linear"
    out: int = Field(ge=1, le=4096)
    bias: bool = True

    def out_shape(self, shape: Shape) -> Shape:
        if len(shape) == 3 and shape[1:] != (1, 1):
            raise ValueError(f"linear needs a 1x1 map (put a gap before it), got {shape}")
        return (self.out,)

    def params(self, shape: Shape) -> int:
        return self.weights(shape) + (self.out if self.bias else 0)

    def weights(self, shape: Shape) -> int:
        return shape[0] * self.out

    def macs(self, shape: Shape) -> int:
        return shape[0] * self.out

    def label(self, shape: Shape) -> str:
        return f"Linear {shape[0]}->{self.out}"


Layer = Annotated[
    Conv | SharedConv | BatchNorm | ReLU | MaxPool | Dropout | GlobalAvgPool | Linear,
    Field(discriminator="type"),
]
