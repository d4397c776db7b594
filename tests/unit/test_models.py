"""The model description: what users rely on when they read a summary or export a config."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models import (
    BatchNorm,
    ConfigError,
    Conv,
    Dropout,
    GlobalAvgPool,
    Linear,
    MaxPool,
    ModelConfig,
    ReLU,
    SharedConv,
    analyse,
    build,
    cnn,
    preset,
)

SEED_8K_TABLE = [  # (layer, output, params) from the reference model's summary
    ("Conv2d 1->8, 3x3, pad 1", (8, 28, 28), 80),
    ("BatchNorm2d(8)", (8, 28, 28), 16),
    ("Conv2d 8->8, 3x3, pad 1", (8, 28, 28), 584),
    ("BatchNorm2d(8)", (8, 28, 28), 16),
    ("Dropout 0.2", (8, 14, 14), 0),
    ("Conv2d 8->16, 3x3, pad 1", (16, 14, 14), 1168),
    ("BatchNorm2d(16)", (16, 14, 14), 32),
    ("Conv2d 16->16, 3x3, pad 1", (16, 14, 14), 2320),
    ("BatchNorm2d(16)", (16, 14, 14), 32),
    ("Dropout 0.2", (16, 7, 7), 0),
    ("Conv2d 16->16, 3x3, pad 0", (16, 5, 5), 2320),
    ("BatchNorm2d(16)", (16, 5, 5), 32),
    ("Conv2d 16->10, 3x3, pad 0", (10, 3, 3), 1450),
    ("BatchNorm2d(10)", (10, 3, 3), 20),
    ("Dropout 0.2", (10, 1, 1), 0),
]


def test_seed_8k_matches_the_reference_layer_for_layer() -> None:
    result = analyse(preset("seed-8k"))
    rows = [(r.layer, r.output, r.params) for r in result.rows if r.layer not in ("ReLU", "MaxPool 2")]
    rows = [r for r in rows if r[0] != "AdaptiveAvgPool 1"]
    assert rows == SEED_8K_TABLE
    assert result.params == 8070
    assert sum(p.numel() for p in build(preset("seed-8k")).parameters()) == 8070
    order = [type(layer).__name__ for layer in preset("seed-8k").layers[:3]]
    assert order == ["Conv", "ReLU", "BatchNorm"]


def test_receptive_field_follows_the_standard_recurrence() -> None:
    rows = analyse(preset("seed-8k")).rows
    # conv3 -> 3, conv3 -> 5, pool -> 6 (jump 2), conv3 -> 10, conv3 -> 14, pool -> 16 (jump 4)
    assert [(r.rf, r.jump) for r in rows if r.layer.startswith(("Conv", "MaxPool"))] == [
        (3, 1), (5, 1), (6, 2), (10, 2), (14, 2), (16, 4), (24, 4), (32, 4),
    ]  # fmt: skip


def test_a_shared_conv_pays_its_weights_once_and_its_steps_per_application() -> None:
    plain = cnn(stages=[[4], [8, 8, 8, 8]], head="conv1x1")
    shared = cnn(stages=[[4], [8]], shared=[0, 3], head="conv1x1")
    a, b = analyse(plain), analyse(shared)
    assert a.macs == b.macs and a.rf == b.rf  # the same computation graph shape...
    assert a.params - b.params == 2 * (8 * 8 * 9)  # ...with two 8->8 convs' weights saved
    assert b.params == sum(p.numel() for p in build(shared).parameters())
    with pytest.raises(ValueError, match=r"shared\[1\] is 1"):
        cnn(stages=[[4], [8]], shared=[0, 1])


@pytest.mark.parametrize(
    ("kind", "stage_params"),
    [
        ("full", 4 * 8 * 9 + 8 * 8 * 9),
        ("separable", (4 * 9 + 4 * 8) + (8 * 9 + 8 * 8)),  # depthwise 3x3, then 1x1 mixing
        ("grouped", 4 * 8 * 9 // 2 + 8 * 8 * 9 // 2),  # two halves, each seeing its own
    ],
)
def test_a_stage_kind_changes_only_what_its_convs_pay(kind: str, stage_params: int) -> None:
    """The image's single channel always meets a full conv; the stage's convs after it pay by
    their kind, with the same output widths and receptive field."""
    config = cnn(stages=[[4], [8, 8]], kinds=["separable", kind], head="conv1x1", input_shape=(1, 28, 28))
    full = cnn(stages=[[4], [8, 8]], head="conv1x1")
    a, reference = analyse(config), analyse(full)
    first = 1 * 4 * 9 + 2 * 4
    head = 8 * 10 + 10
    assert a.params == first + stage_params + 2 * 2 * 8 + head
    assert a.params == sum(p.numel() for p in build(config).parameters())
    assert a.rf == reference.rf and a.rows[-1].output == reference.rows[-1].output


def test_grouped_convs_need_widths_the_groups_divide() -> None:
    with pytest.raises(ValueError, match="groups 2 must divide"):
        cnn(stages=[[4], [7]], kinds="grouped", head="conv1x1")


def _measured_rf(module: torch.nn.Module, size: int = 31) -> int:
    """Rows of the input that move the centre output pixel, with every weight positive (so no
    ReLU hides a path) and max-pools read as average pools (the same window, but every input
    of it gets a gradient)."""
    module = torch.nn.Sequential(*[torch.nn.AvgPool2d(2) if isinstance(m, torch.nn.MaxPool2d) else m for m in module])
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.abs() + 0.1)
    x = torch.ones(1, 1, size, size, requires_grad=True)
    out = module.eval()(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    return int((x.grad[0, 0].abs().sum(dim=1) > 0).sum())


@pytest.mark.parametrize("shared", [[2, 0], [3, 2]])
def test_receptive_field_of_shared_convs_is_what_the_input_sees(shared: list[int]) -> None:
    config = cnn(stages=[[4], [4]], shared=shared, head="conv1x1", input_shape=(1, 31, 31))
    rows = analyse(config).rows
    last_conv = max(
        i for i, layer in enumerate(config.layers) if layer.type == "shared" or getattr(layer, "kernel", 1) == 3
    )
    prefix = torch.nn.Sequential(*list(build(config))[: last_conv + 1])
    assert _measured_rf(prefix) == rows[last_conv].rf


def test_compact_preset_is_under_5k() -> None:
    assert analyse(preset("compact-4k")).params < 5000


@pytest.mark.parametrize("name", ["seed-8k", "compact-4k"])
def test_json_round_trip_is_stable(name: str) -> None:
    config = preset(name)
    text = config.to_json()
    again = ModelConfig.from_json(text)
    assert again == config
    assert again.to_json() == text
    assert json.loads(text)["schema_version"] == 1


@pytest.mark.parametrize(
    ("mutate", "names"),
    [
        (lambda d: d | {"colour": "red"}, "colour: unknown key"),
        (lambda d: d | {"schema_version": 2}, "schema_version"),
        (lambda d: {**d, "layers": [{"type": "conv", "out": 0}]}, "layers.0.conv.out"),
        (lambda d: {**d, "layers": [{"type": "conv", "out": 8, "kernel": 5}]}, "layers.0.conv.kernel"),
        (lambda d: {**d, "layers": [{"type": "conv", "out": 8}]}, "the last layer outputs (8, 28, 28)"),
        (lambda d: {**d, "layers": [{"type": "maxpool"}] * 6}, "layers[4] (maxpool): maxpool on 1x1"),
        (lambda d: {**d, "layers": [{"type": "teleport"}]}, "layers.0"),
    ],
)
def test_bad_configs_are_rejected_naming_the_field(mutate, names: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        ModelConfig.from_dict(mutate(preset("seed-8k").to_dict()))
    assert names in str(info.value)


def test_configs_are_frozen() -> None:
    config = preset("seed-8k")
    with pytest.raises(ValidationError, match="Instance is frozen"):
        config.num_classes = 3  # type: ignore[misc]
    with pytest.raises(TypeError):  # the layers are a tuple: no layer can be added or swapped in place
        config.layers[0] = config.layers[1]  # type: ignore[index]
    assert config == preset("seed-8k") and config.num_classes == 10


@st.composite
def valid_configs(draw: st.DrawFn) -> ModelConfig:
    """Random valid architectures, built forward while tracking the map size."""
    in_channels, in_size = draw(st.integers(1, 3)), draw(st.integers(3, 28))
    classes, size, channels = draw(st.integers(2, 12)), in_size, in_channels
    layers: list = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["conv", "shared", "bn", "relu", "pool", "dropout"]))
        if kind == "conv":
            kernel = draw(st.sampled_from([1, 3]))
            padding = draw(st.sampled_from([0, 1])) if size > 2 or kernel == 1 else 1
            out = draw(st.integers(1, 12))
            groups = draw(st.sampled_from([g for g in range(1, channels + 1) if channels % g == 0 == out % g]))
            layers.append(Conv(out=out, kernel=kernel, padding=padding, bias=draw(st.booleans()), groups=groups))
            size, channels = size + 2 * padding - kernel + 1, out
        elif kind == "shared" and layers:
            order = draw(st.sampled_from(["bn-relu", "relu-bn"]))
            layers.append(SharedConv(repeats=draw(st.integers(2, 3)), bias=draw(st.booleans()), order=order))
        elif kind == "pool" and size >= 2:
            layers.append(MaxPool())
            size //= 2
        elif kind == "bn":
            layers.append(BatchNorm())
        elif kind == "relu":
            layers.append(ReLU())
        elif kind == "dropout":
            layers.append(Dropout(p=draw(st.floats(0, 0.5))))
    head, bias = draw(st.sampled_from(["gap", "conv1x1", "linear"])), draw(st.booleans())
    if head == "gap":
        layers += [Conv(out=classes, kernel=1, padding=0, bias=bias), GlobalAvgPool()]
    elif head == "conv1x1":
        layers += [GlobalAvgPool(), Conv(out=classes, kernel=1, padding=0, bias=bias)]
    else:
        layers += [GlobalAvgPool(), Linear(out=classes, bias=bias)]
    return ModelConfig(input_shape=(in_channels, in_size, in_size), num_classes=classes, layers=tuple(layers))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=valid_configs())
def test_analysis_equals_the_built_module(config: ModelConfig) -> None:
    result = analyse(config)
    module = build(config).eval()
    assert result.params == sum(p.numel() for p in module.parameters())
    x = torch.zeros(2, *config.input_shape)
    for row, layer in zip(result.rows, module, strict=False):
        x = layer(x)
        assert tuple(x.shape[1:]) == row.output
    assert tuple(module(torch.zeros(2, *config.input_shape)).shape) == (2, config.num_classes)
    assert ModelConfig.from_json(config.to_json()) == config
    # the device figures, measured on the module: kernels and matrices are the parameters with
    # two or more dimensions; the live activations, what each non-elementwise layer reads and writes
    kernels = sum(p.numel() for p in module.parameters() if p.dim() >= 2)
    assert result.weight_bytes == kernels + 4 * (result.params - kernels)
    assert result.activation_bytes == max(live_activations(module, config.input_shape))


def live_activations(module: torch.nn.Sequential, shape: tuple[int, ...]) -> list[int]:
    elementwise = (torch.nn.BatchNorm2d, torch.nn.ReLU, torch.nn.Dropout, torch.nn.Flatten)
    live: list[int] = []
    x = torch.zeros(1, *shape)
    for layer in module:
        y = layer(x)
        if not isinstance(layer, elementwise):
            live.append(x.numel() + y.numel())
        x = y
    return live


def test_device_figures_of_the_reference_layout() -> None:
    """seed-8k: its largest buffers are the first padded convs (8 x 28 x 28 in and out)."""
    stats = analyse(preset("seed-8k"))
    assert stats.activation_bytes == 2 * 8 * 28 * 28
    kernels = 9 * (1 * 8 + 8 * 8 + 8 * 16 + 16 * 16 + 16 * 16 + 16 * 10)
    assert stats.weight_bytes == kernels + 4 * (stats.params - kernels)
