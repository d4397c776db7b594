"""A retrained checkpoint as a file another runtime runs: ONNX (and int8 ONNX), checked.

The deployed graph takes pixels in [0, 1] (N, 1, 28, 28) and normalises inside, so the
file is all a caller needs: each variant is one self-contained .onnx file, weights embedded.
BatchNorm is folded where that is exact (`models.fold`). Every file is checked with
onnxruntime on the 10,000 test images: accuracy and agreement with the PyTorch model's
predictions. int8 is onnxruntime's static post-training quantization (QDQ, per-channel
weights), calibrated on training images only, with 7-bit weights so that it computes the
same on every x86 CPU (see `INT8_WEIGHT_LIMIT`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import statistics
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from torch import nn

from models import analyse, arch_string, build, explain, fold_batchnorm
from search.data import DatasetInfo, Split, channel_view, dataset_info, pixel_split, stratified_pick
from search.errors import TinynasError, check_replaceable, check_writable, holds_json_keys, write_user_file
from search.training import Experiment, cpu_features, cpu_name
from search.version import __version__

OPSET = 18
"""ONNX opset of the exported graph: torch 2.13's exporter default, run by onnxruntime >= 1.14."""
CALIBRATION_IMAGES = 2000
"""Training images (stratified, seed 0) that set the int8 activation ranges; never test images."""
LATENCY_RUNS = 1000
"""Single-image inferences timed per file (after 100 warm-up runs); the median is reported."""
INT8_DROP_WARNING = 0.1
"""Points of test accuracy int8 may lose before the card and the CLI say so plainly."""
INT8_WEIGHT_LIMIT = 64
"""The largest |int8 weight| the quantizer writes (onnxruntime's `reduce_range`: 7-bit weights).
x86 CPUs without VNNI (AVX2, early AVX-512) multiply u8 activations by s8 weights with
vpmaddubsw, which adds two products into a saturating int16: 2 x 255 x 128 = 65,280 overflows
32,767 and the model's answers change with the CPU. With |w| <= 64 the pair sum is at most
2 x 255 x 64 = 32,640, so no pairing of products can saturate on any CPU."""
QUANTIZATION = "static QDQ, per-channel 7-bit int8 weights (reduce_range), uint8 activations"
EXTRA = "pip install 'tinynas[deploy]'  (onnx, onnxruntime, onnxscript)"


@dataclass(frozen=True)
class Checked:
    """One ONNX file, measured."""

    path: str
    file_bytes: int  # the whole file: graph and weights (one self-contained file per variant)
    weight_bytes: int  # the bytes of every initializer in the file (weights, biases, scales)
    test_acc: float
    agreement: float  # % of test images where its prediction equals PyTorch's
    latency_us: float  # median, batch 1, one thread


@dataclass(frozen=True)
class DeployCard:
    model: str
    params: int
    params_deployed: int
    bn_folded: int
    bn_kept: int
    macs: int
    weight_bytes: int  # analytic: int8 kernels and int32 biases (models.analysis), what max_weight_bytes bounds
    activation_bytes: int  # analytic, peak int8 activations, one layer at a time
    pytorch_test_acc: float
    fp32: Checked
    int8: Checked | None
    int8_drop: float | None
    onnx: dict[str, Any]
    classes: list[str]  # what each logit means, in order (the data's class names, else 0..K-1)
    calibration: str | None
    machine: str
    cpu_features: list[str]  # the SIMD features of the CPU the checks ran on (int8 kernels differ by them)
    provenance: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Normalise(nn.Module):
    def __init__(self, info: DatasetInfo) -> None:
        super().__init__()
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", channel_view(info.mean))
        self.register_buffer("std", channel_view(info.std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _onnx_modules() -> tuple[Any, Any, Any]:
    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
        from onnxruntime import quantization
    except ImportError as exc:
        raise TinynasError(f"tinynas deploy needs {exc.name}: {EXTRA}") from None
    return onnx, onnxruntime, quantization


def load_checkpoint(path: Path) -> tuple[Experiment, nn.Sequential]:
    """The experiment and the trained model of a `checkpoint.pt` that `retrain` wrote."""
    if not path.is_file():
        raise TinynasError(f"{path}: no such checkpoint; `tinynas retrain` writes OUT/seedN/checkpoint.pt")
    try:  # weights_only: the file is read as tensors and plain containers, never as code
        blob = torch.load(path, map_location="cpu", weights_only=True)
        exp = Experiment.model_validate(blob["experiment"])
        model = build(exp.model)
        model.load_state_dict(blob["state_dict"])
    except ValidationError as exc:  # a checkpoint's experiment, hand-edited: the ceilings hold here too
        raise TinynasError(f"{path}: {explain(exc, 'experiment in the checkpoint')}") from None
    except Exception as exc:  # any other way a file can fail to be one of our checkpoints
        raise TinynasError(
            f"{path} is not a checkpoint written by `tinynas retrain` ({type(exc).__name__}); "
            "pass OUT/seedN/checkpoint.pt of a retrain"
        ) from None
    return exp, model.eval()


def _export(module: nn.Module, shape: tuple[int, ...], out: Path) -> None:
    example = torch.rand(2, *shape)
    with _quiet():
        torch.onnx.export(
            module,
            (example,),
            str(out),
            dynamo=True,
            opset_version=OPSET,
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False,
            external_data=False,  # weights inside the .onnx: the file stands alone
        )


@contextlib.contextmanager
def _quiet():
    """The exporter and the quantizer talk through warnings, logging and stdout; our CLI speaks for them."""
    loggers = [logging.getLogger(), logging.getLogger("torch.onnx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _session(path: Path) -> Any:
    """One onnxruntime session per file, on one thread: the latency it measures is per core."""
    _, ort, _ = _onnx_modules()
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _predict(session: Any, images: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [session.run(None, {"image": images[i : i + 1000]})[0].argmax(1) for i in range(0, len(images), 1000)]
    )


def _latency_us(session: Any, image: np.ndarray) -> float:
    feed = {"image": image[None]}
    for _ in range(100):
        session.run(None, feed)
    times = []
    for _ in range(LATENCY_RUNS):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1e6, 1)


def _initializers(path: Path) -> list[np.ndarray]:
    """Every stored tensor of an ONNX file (weights, biases, quantization scales)."""
    onnx, _, _ = _onnx_modules()
    return [onnx.numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer]


def _weight_bytes(path: Path) -> int:
    return int(sum(a.nbytes for a in _initializers(path)))


def _check(path: Path, test: Split, reference: np.ndarray) -> Checked:
    images, labels = test.x.numpy(), test.y.numpy()
    session = _session(path)
    predicted = _predict(session, images)
    return Checked(
        path=str(path),
        file_bytes=path.stat().st_size,
        weight_bytes=_weight_bytes(path),
        test_acc=round(100.0 * float((predicted == labels).mean()), 2),
        agreement=round(100.0 * float((predicted == reference).mean()), 2),
        latency_us=_latency_us(session, images[0]),
    )


def _quantize(fp32: Path, int8: Path, calibration: np.ndarray) -> None:
    _, _, q = _onnx_modules()

    class Reader(q.CalibrationDataReader):  # type: ignore[name-defined]  # onnxruntime: imported here, an extra
        def __init__(self) -> None:
            self.batches = iter(calibration[i : i + 100] for i in range(0, len(calibration), 100))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {"image": batch}

    prepared = int8.with_name(int8.stem + ".prep.onnx")
    with _quiet():
        try:
            q.quant_pre_process(str(fp32), str(prepared))
            q.quantize_static(
                str(prepared),
                str(int8),
                Reader(),
                quant_format=q.QuantFormat.QDQ,
                per_channel=True,
                reduce_range=True,
                activation_type=q.QuantType.QUInt8,
                weight_type=q.QuantType.QInt8,
            )
        finally:
            prepared.unlink(missing_ok=True)


def int8_weight_peak(path: Path) -> int:
    """The largest |value| of the int8 weight tensors in a quantized file (0 if none)."""
    arrays = _initializers(path)
    return max((int(np.abs(a.astype(np.int32)).max()) for a in arrays if a.dtype == np.int8 and a.size), default=0)


def int8_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".onnx") + ".int8.onnx")


def card_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".onnx") + ".card.json")


def _int8(out: Path, info: DatasetInfo, root: Path, test: Split, reference: np.ndarray) -> tuple[Checked, str]:
    """OUT quantized to int8 beside it, calibrated on training images only, and checked."""
    train = pixel_split(info, root, "train")
    picked = (
        stratified_pick(train.y.numpy(), CALIBRATION_IMAGES, seed=0)[0]
        if len(train) > CALIBRATION_IMAGES
        else np.arange(len(train))  # a small dataset: every training image
    )
    _quantize(out, int8_path(out), train.x[picked].numpy())
    if (peak := int8_weight_peak(int8_path(out))) > INT8_WEIGHT_LIMIT:  # the quantizer's contract, kept
        raise TinynasError(
            f"the int8 model has weights up to {peak} (> {INT8_WEIGHT_LIMIT}), which saturate "
            "on CPUs without VNNI; upgrade onnxruntime or ship the fp32 file"
        )
    chosen = "stratified, seed 0" if len(picked) < len(train) else "all of them"
    calibration = f"{len(picked):,} training images ({chosen}); the test set is never read for it"
    return _check(int8_path(out), test, reference), calibration


def is_deployed(path: Path) -> bool:
    """Whether `path` is a file `deploy` wrote: a card, or a model with its card beside it."""
    card = path if path.name.endswith(".card.json") else card_path(path.with_name(path.name.replace(".int8", "")))
    return holds_json_keys(card, {"onnx", "fp32", "model"})


def deploy_checkpoint(checkpoint: Path, out: Path, root: Path, int8: bool = False, force: bool = False) -> DeployCard:
    """Export, quantize and check (test images from the dataset under `root`); writes OUT,
    OUT's .int8.onnx and its .card.json (replacing only what an earlier deploy wrote, unless
    `force`)."""
    _onnx_modules()
    if out.suffix != ".onnx":
        raise TinynasError(f"--out {out}: name the file *.onnx")
    for path in (out, int8_path(out), card_path(out)):
        check_writable(path, "deployed model")
        check_replaceable(path, "a deployed model", is_deployed, force)
    exp, model = load_checkpoint(checkpoint)
    info = dataset_info(exp.dataset, exp.resize)
    test = pixel_split(info, root, "test")
    with torch.no_grad():
        reference = nn.Sequential(_Normalise(info), model).eval()
        pytorch_pred = torch.cat([reference(test.x[i : i + 1000]).argmax(1) for i in range(0, len(test), 1000)])
    pytorch_acc = round(100.0 * float((pytorch_pred == test.y).float().mean()), 2)
    folded, n_folded, n_kept = fold_batchnorm(model)
    deployed = nn.Sequential(_Normalise(info), folded).eval()
    _export(deployed, info.shape, out)
    fp32 = _check(out, test, pytorch_pred.numpy())
    checked8, calibration = _int8(out, info, root, test, pytorch_pred.numpy()) if int8 else (None, None)
    stats = analyse(exp.model)
    card = DeployCard(
        model=arch_string(exp.model),
        params=stats.params,
        params_deployed=sum(p.numel() for p in folded.parameters()),
        bn_folded=n_folded,
        bn_kept=n_kept,
        macs=stats.macs,
        weight_bytes=stats.weight_bytes,
        activation_bytes=stats.activation_bytes,
        pytorch_test_acc=pytorch_acc,
        fp32=fp32,
        int8=checked8,
        int8_drop=round(fp32.test_acc - checked8.test_acc, 2) if checked8 else None,
        onnx={
            "opset": OPSET,
            "input": f"image: float32 [batch, {', '.join(map(str, info.shape))}], pixels in [0, 1]"
            + (f", resized to {info.shape[2]}x{info.shape[1]} (bilinear, antialiased)" if info.resize else ""),
            "output": f"logits: float32 [batch, {info.classes}]",
            "quantization": QUANTIZATION if int8 else None,
        },
        classes=list(info.class_names) or [str(k) for k in range(info.classes)],
        calibration=calibration,
        machine=f"{cpu_name()}, onnxruntime {_onnx_modules()[1].__version__} "
        f"(1 thread), torch {torch.__version__}, tinynas {__version__}",
        cpu_features=cpu_features(),
        provenance={
            **exp.provenance.model_dump(mode="json", exclude_none=True),
            "seed": exp.train.seed,
            "epochs": exp.train.epochs,
            "checkpoint": str(checkpoint),
        },
    )
    write_user_file(card_path(out), json.dumps(card.as_dict(), indent=2), "deploy card")
    return card
