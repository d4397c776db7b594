"""`tinynas deploy`: a retrained checkpoint as ONNX and int8 ONNX, run by onnxruntime."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from models import analyse, cnn
from search.outputs.deploy import INT8_WEIGHT_LIMIT, int8_weight_peak
from tests.helpers import run_cli


def test_retrain_then_deploy_then_onnxruntime(tmp_path: Path, mnist_root: Path) -> None:
    # relu-bn with a shared conv: BNs that fold (into the unpadded tail and the head) and BNs
    # that cannot (before a pool and a padded conv; inside the shared conv)
    model = cnn(stages=[[6], [8], [8]], tail=[8], shared=[0, 2, 0], order="relu-bn", dropout=0.05)
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps({"model": model.to_dict(), "train": {"scheduler": "onecycle", "lr": 0.02, "epochs": 2}})
    )
    data = ("--data-dir", str(mnist_root))
    trained = run_cli(
        "retrain",
        str(config),
        "--subset",
        "10000",
        "--out",
        str(tmp_path / "run"),
        "--quiet",
        "--results",
        f"sqlite:///{tmp_path / 'r.db'}",
        "--threads",
        "1",
        *data,
    )
    assert trained.returncode == 0, trained.stderr
    final = json.loads((tmp_path / "run" / "summary.json").read_text())["final_acc"][0]

    out = tmp_path / "ship" / "m.onnx"
    out.parent.mkdir()
    result = run_cli(
        "deploy",
        str(tmp_path / "run" / "seed0" / "checkpoint.pt"),
        "--out",
        str(out),
        "--int8",
        "--threads",
        "1",
        *data,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and "torchvision" not in result.stdout  # the exporter's chatter stays quiet
    card = json.loads((tmp_path / "ship" / "m.card.json").read_text())
    assert card["params"] == 2_396 and card["bn_folded"] == 2 and card["bn_kept"] == 4
    assert abs(card["pytorch_test_acc"] - final) <= 0.02  # the retrain's own final test accuracy
    assert card["fp32"]["agreement"] >= 99.9 and abs(card["fp32"]["test_acc"] - card["pytorch_test_acc"]) <= 0.05
    assert card["int8_drop"] == round(card["fp32"]["test_acc"] - card["int8"]["test_acc"], 2)
    assert card["int8"]["weight_bytes"] < card["fp32"]["weight_bytes"]
    assert card["provenance"]["seed"] == 0 and "training images" in card["calibration"]
    assert card["onnx"]["opset"] == 18

    # the analytic device figures hold for the shipped int8 file: its int8 kernels are exactly the
    # analysis's, and its int32 vectors (biases, folded BatchNorms) fit in what the analysis counts
    stats = analyse(model)
    assert (card["weight_bytes"], card["activation_bytes"]) == (stats.weight_bytes, stats.activation_bytes)
    stored = [
        onnx.numpy_helper.to_array(t) for t in onnx.load(str(tmp_path / "ship" / "m.int8.onnx")).graph.initializer
    ]
    kernels = sum(a.nbytes for a in stored if a.dtype == np.int8 and a.ndim >= 2)
    vectors = sum(a.nbytes for a in stored if a.dtype == np.int32 and a.ndim == 1)
    kernel_count = sum(layer.weights(shape) for layer, shape in zip(model.layers, model.shapes(), strict=False))
    assert kernels == kernel_count and 0 < vectors <= stats.weight_bytes - kernel_count

    # int8 weights that cannot saturate u8 x s8 pair sums on CPUs without VNNI, whatever this CPU has
    assert 0 < int8_weight_peak(tmp_path / "ship" / "m.int8.onnx") <= INT8_WEIGHT_LIMIT
    # a trained model (about 97% after 2 epochs on 10,000 images): int8 must mean what fp32 means
    assert card["fp32"]["test_acc"] > 95.0 and card["int8"]["agreement"] >= 99.0, card
    assert abs(card["int8_drop"]) <= 0.5, card
    assert "7-bit" in card["onnx"]["quantization"] and isinstance(card["cpu_features"], list)

    # each variant is one file that stands alone: the folder holds exactly what the card names
    shipped = {p.name: p.stat().st_size for p in (tmp_path / "ship").iterdir()}
    assert set(shipped) == {"m.onnx", "m.int8.onnx", "m.card.json"}
    assert card["fp32"]["file_bytes"] == shipped["m.onnx"] > card["fp32"]["weight_bytes"]
    assert card["int8"]["file_bytes"] == shipped["m.int8.onnx"]
    images = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    for name in ("m.onnx", "m.int8.onnx"):
        alone = tmp_path / f"alone-{name}"
        alone.mkdir()
        shutil.copy(tmp_path / "ship" / name, alone / name)
        session = ort.InferenceSession(str(alone / name), providers=["CPUExecutionProvider"])
        assert session.run(None, {"image": images})[0].shape == (3, 10)  # the batch dimension is dynamic
        assert session.run(None, {"image": images[:1]})[0].shape == (1, 10)


def test_deploy_refuses_what_is_not_a_checkpoint(tmp_path: Path) -> None:
    for args, message in [
        (["deploy", str(tmp_path / "none.pt")], "no such checkpoint"),
        (
            ["deploy", "README.md", "--out", str(tmp_path / "m.onnx")],
            "is not a checkpoint written by `tinynas retrain`",
        ),
        (["deploy", "README.md", "--out", str(tmp_path / "m.txt")], "name the file *.onnx"),
    ]:
        result = run_cli(*args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
