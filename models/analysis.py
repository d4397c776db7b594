"""Parameters, MACs, receptive field and the memory a microcontroller needs for them, from the
config alone, without building it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.config import ModelConfig

WEIGHT_BYTES = 1
"""A deployed kernel or matrix entry: int8, as int8 runtimes (onnxruntime's QDQ, TFLite Micro,
CMSIS-NN) store them."""
VECTOR_BYTES = 4
"""A deployed per-channel value (a bias, or a BatchNorm's scale or shift): int32, as int8 runtimes
store biases. A BatchNorm that folds into its conv becomes part of that conv's int32 bias, so
counting both bounds the deployed kernels and biases from above. (An int8 file also stores the
quantization scales and zero points, a few bytes per channel, which this figure leaves out.)"""
ACTIVATION_BYTES = 1
"""A deployed activation: int8 (or uint8)."""


@dataclass(frozen=True)
class LayerRow:
    index: int
    layer: str
    output: tuple[int, ...]
    params: int
    macs: int
    rf: int
    jump: int
    live: int
    """Activation elements held while this layer runs: its input and its output (0 for a layer
    applied in place: BatchNorm, ReLU, dropout)."""


@dataclass(frozen=True)
class Analysis:
    rows: tuple[LayerRow, ...]
    params: int
    macs: int
    rf: int
    weight_bytes: int
    """The deployed weights: int8 kernels and matrices, int32 per-channel vectors (`VECTOR_BYTES`)."""
    activation_bytes: int
    """Peak int8 activation memory of inference, run one layer at a time as microcontroller
    runtimes do: the largest input plus output of any layer."""

    def as_dict(self) -> dict:
        return {
            "params": self.params,
            "macs": self.macs,
            "receptive_field": self.rf,
            "weight_bytes": self.weight_bytes,
            "activation_bytes": self.activation_bytes,
            "layers": [row.__dict__ | {"output": list(row.output)} for row in self.rows],
        }


def analyse(config: ModelConfig) -> Analysis:
    """Walk the layers with the standard recurrence r += (k - 1) * j, j *= s.

    MACs count multiply-accumulates of convolutions and linear layers per image
    (BatchNorm folds into the conv at inference, pooling and ReLU are not MACs).
    """
    rows = []
    rf, jump, weights = 1, 1, 0
    shapes = config.shapes()
    for i, layer in enumerate(config.layers):
        shape, out = shapes[i], shapes[i + 1]
        kernel, stride = layer.window(shape)
        rf += (kernel - 1) * jump
        jump *= stride
        live = 0 if layer.in_place else math.prod(shape) + math.prod(out)
        weights += layer.weights(shape)
        rows.append(LayerRow(i, layer.label(shape), out, layer.params(shape), layer.macs(shape), rf, jump, live))
    params = sum(r.params for r in rows)
    return Analysis(
        rows=tuple(rows),
        params=params,
        macs=sum(r.macs for r in rows),
        rf=rf,
        weight_bytes=WEIGHT_BYTES * weights + VECTOR_BYTES * (params - weights),
        activation_bytes=ACTIVATION_BYTES * max((r.live for r in rows), default=0),
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
