"""Parameters, MACs and receptive field from the config alone, without building it."""

from __future__ import annotations

from dataclasses import dataclass

from models.config import ModelConfig


@dataclass(frozen=True)
class LayerRow:
    index: int
    layer: str
    output: tuple[int, ...]
    params: int
    macs: int
    rf: int
    jump: int


@dataclass(frozen=True)
class Analysis:
    rows: tuple[LayerRow, ...]
    params: int
    macs: int
    rf: int

    def as_dict(self) -> dict:
        return {
            "params": self.params,
            "macs": self.macs,
            "receptive_field": self.rf,
            "layers": [row.__dict__ | {"output": list(row.output)} for row in self.rows],
        }


def analyse(config: ModelConfig) -> Analysis:
    """Walk the layers with the standard recurrence r += (k - 1) * j, j *= s.

    MACs count multiply-accumulates of convolutions and linear layers per image
    (BatchNorm folds into the conv at inference, pooling and ReLU are not MACs).
    """
    rows = []
    rf, jump = 1, 1
    shapes = config.shapes()
    for i, layer in enumerate(config.layers):
        shape = shapes[i]
        kernel, stride = layer.window(shape)
        rf += (kernel - 1) * jump
        jump *= stride
        rows.append(LayerRow(i, layer.label(shape), shapes[i + 1], layer.params(shape), layer.macs(shape), rf, jump))
    return Analysis(
        rows=tuple(rows),
        params=sum(r.params for r in rows),
        macs=sum(r.macs for r in rows),
        rf=rf,
    )


def count_params(config: ModelConfig) -> int:
    return analyse(config).params


ARCH_NOTATION = (
    "arch, left to right: 8 = 3x3 conv to 8 channels (padded), 8v = unpadded 3x3 conv, 8x3s = one 3x3 conv "
    "applied 3 times with shared weights, t8 = 1x1 conv to 8 channels, d8 = depthwise 3x3 conv on 8 channels "
    "(d8 t12: depthwise-separable to 12), 12g2 = 3x3 conv to 12 in 2 groups, P = 2x2 max-pool, G = global "
    "average pool, L10 = linear layer to 10 outputs; BatchNorm, ReLU and dropout are not written"
)
"""How to read `arch_string`, for every table that shows it."""


def arch_string(config: ModelConfig) -> str:
    """A compact one-line architecture for tables (see `ARCH_NOTATION`)."""
    tokens = []
    for layer, shape in zip(config.layers, config.shapes(), strict=False):
        if layer.type == "shared":
            tokens.append(f"{shape[0]}x{layer.repeats}s")
        elif layer.type == "conv" and layer.depthwise(shape):
            tokens.append(f"d{layer.out}{'' if layer.padding else 'v'}")
        elif layer.type == "conv":
            grouped = f"g{layer.groups}" if layer.groups > 1 else ""
            tokens.append(
                f"t{layer.out}" if layer.kernel == 1 else f"{layer.out}{'' if layer.padding else 'v'}{grouped}"
            )
        elif layer.type in ("maxpool", "gap"):
            tokens.append("P" if layer.type == "maxpool" else "G")
        elif layer.type == "linear":
            tokens.append(f"L{layer.out}")
    return " ".join(tokens)
