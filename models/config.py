"""The one frozen, validated description of an architecture."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.layers import Layer, Shape

SCHEMA_VERSION = 1


class ConfigError(ValueError):
    """A config that cannot describe a model; the message names the field and the fix."""


def explain(exc: ValidationError, what: str) -> str:
    """One readable line per problem: pydantic's own text is too noisy for a CLI."""
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (remove it or check its spelling)"
        problem = f"{where}: {msg}" if where else msg
        problems.append(problem if len(problem) <= 200 else problem[:199] + "…")  # a key or value may be huge
    more = f" (+{len(exc.errors()) - 5} more)" if len(exc.errors()) > 5 else ""
    return f"invalid {what}: " + "; ".join(problems) + more


class ModelConfig(BaseModel):
    """A CNN as a flat sequence of layers for a C x H x W input and K classes.

    Validation walks the shapes, so an instance always builds and its analysis is exact.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[SCHEMA_VERSION] = SCHEMA_VERSION  # type: ignore[valid-type]
    name: str = ""
    input_shape: tuple[int, int, int] = (1, 28, 28)
    num_classes: int = Field(default=10, ge=2)
    layers: tuple[Layer, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _shapes_work(self) -> ModelConfig:
        if min(self.input_shape) < 1:
            raise ValueError(f"input_shape must be positive, got {self.input_shape}")
        shape = self.output_shape_checked()
        k = self.num_classes
        if shape not in ((k,), (k, 1, 1)):
            raise ValueError(
                f"the last layer outputs {shape}, but logits need ({k},) or ({k}, 1, 1): "
                f"end with a gap after a conv to {k} channels, or a linear/1x1 conv to {k}"
            )
        return self

    def output_shape_checked(self) -> Shape:
        shape: Shape = self.input_shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.out_shape(shape)
            except ValueError as exc:
                raise ValueError(f"layers[{i}] ({layer.type}): {exc}") from None
        return shape

    def shapes(self) -> list[Shape]:
        """The input shape of every layer, then the final output shape."""
        out: list[Shape] = [self.input_shape]
        for layer in self.layers:
            out.append(layer.out_shape(out[-1]))
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Any) -> ModelConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(explain(exc, "model config")) from None

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"model config is not valid JSON: {exc}") from None
        return cls.from_dict(data)
