"""Data on the real MNIST: splits carved honestly, downloads verified against a local mirror."""

from __future__ import annotations

import json
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from search.data import dataset_info, fetch, retrain_splits, search_splits
from search.errors import TinynasError
from tests.helpers import run_cli


def test_search_splits_carve_validation_from_training_images(mnist_root: Path) -> None:
    train, val = search_splits(dataset_info("mnist"), mnist_root, val_size=5000, subset=3000)
    assert len(val) == 5000 and len(train) == 3000
    flat_train = {tuple(row) for row in train.x.flatten(1)[:, ::7].tolist()}
    assert not any(tuple(row) in flat_train for row in val.x.flatten(1)[:200, ::7].tolist())
    assert abs(float(torch.cat([train.x, val.x]).mean())) < 0.05  # normalised with MNIST's mean/std
    full_train, test = retrain_splits(dataset_info("mnist"), mnist_root)
    assert (len(full_train), len(test)) == (60000, 10000)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def serve():
    """An HTTP server on 127.0.0.1 serving a folder; nothing leaves the machine."""
    servers = []

    def start(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()


def test_fetch_downloads_and_verifies_from_a_mirror(tmp_path: Path, mnist_root: Path, serve) -> None:
    url = serve(mnist_root / "MNIST" / "raw")
    paths = fetch(dataset_info("mnist"), tmp_path, mirror=url)
    assert len(paths) == 4 and all(p.parent == tmp_path / "MNIST" / "raw" for p in paths)
    train, _val = search_splits(dataset_info("mnist"), tmp_path, subset=1000)
    assert len(train) == 1000
    before = [p.stat().st_mtime_ns for p in paths]
    assert fetch(dataset_info("mnist"), tmp_path, mirror=url) == paths  # cached: nothing downloaded again
    assert [p.stat().st_mtime_ns for p in paths] == before


def test_fetch_refuses_a_file_with_the_wrong_checksum(tmp_path: Path, mnist_root: Path, serve) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(mnist_root / "MNIST" / "raw", mirror)
    (mirror / "t10k-labels-idx1-ubyte.gz").chmod(0o644)
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(b"tampered")
    with pytest.raises(TinynasError, match=r"checksum mismatch for t10k-labels-idx1-ubyte\.gz"):
        fetch(dataset_info("mnist"), tmp_path / "data", mirror=serve(mirror))
    assert not (tmp_path / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").exists()


def test_missing_data_is_fetched_on_first_use(tmp_path: Path, mnist_root: Path, serve) -> None:
    url = serve(mnist_root / "MNIST" / "raw")
    result = run_cli(
        "retrain",
        "seed-8k",
        "--epochs",
        "1",
        "--subset",
        "500",
        "--out",
        str(tmp_path / "run"),
        "--results",
        f"sqlite:///{tmp_path / 'r.db'}",
        "--quiet",
        "--data-dir",
        str(tmp_path / "data"),
        env={"TINYNAS_MIRROR": url, "TINYNAS_OFFLINE": ""},
    )
    assert result.returncode == 0, result.stderr
    assert dataset_info("mnist").present(tmp_path / "data") and (tmp_path / "run" / "summary.json").is_file()


def test_a_failed_fetch_on_first_use_is_one_line_and_leaves_no_folders(tmp_path: Path) -> None:
    for env, message in [
        ({"TINYNAS_MIRROR": "http://127.0.0.1:1/", "TINYNAS_OFFLINE": ""}, "the download failed"),
        ({"TINYNAS_OFFLINE": "1"}, "tinynas data fetch mnist"),
    ]:
        result = run_cli(
            "retrain",
            "seed-8k",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "run"),
            "--data-dir",
            str(tmp_path / "data"),
            env=env,
        )
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert list(tmp_path.iterdir()) == []  # no empty data folders, no run folder


def test_a_users_npz_goes_through_search_export_retrain_and_deploy(tmp_path: Path) -> None:
    """The shipped digits spec, shortened: the whole flow on a user's own .npz (8x8 scans, not
    MNIST), under its microcontroller bounds, with no --data-dir anywhere."""
    from tests.helpers import REPO

    text = (REPO / "studies" / "digits.toml").read_text()
    text = text.replace('dataset = "studies/data/digits.npz"', f'dataset = "{REPO / "studies/data/digits.npz"}"')
    text = text.replace("epochs = 19\n\n[sampler]", "epochs = 3\n\n[sampler]").replace("trials = 40", "trials = 2")
    spec = tmp_path / "digits.toml"
    spec.write_text(text)
    url = f"sqlite:///{tmp_path / 'd.db'}"
    searched = run_cli("search", str(spec), "--storage", url, "--no-confirm", "--jobs", "1", "--threads", "1")
    assert searched.returncode == 0, searched.stderr
    trials = run_cli("trials", "digits", "--storage", url)
    assert trials.returncode == 0 and "activation_bytes" in trials.stdout
    best = tmp_path / "best.json"
    assert run_cli("export", "digits", "--storage", url, "--rule", "best", "--out", str(best)).returncode == 0
    run = tmp_path / "run"
    retrained = run_cli(
        "retrain", str(best), "--seeds", "2", "--epochs", "2", "--threads", "1", "--quiet", "--out", str(run),
        "--results", f"sqlite:///{tmp_path / 'r.db'}",
    )  # fmt: skip
    assert retrained.returncode == 0, retrained.stderr
    deployed = run_cli("deploy", str(run / "seed0" / "checkpoint.pt"), "--out", str(tmp_path / "m.onnx"), "--int8")
    assert deployed.returncode == 0, deployed.stderr
    card = json.loads((tmp_path / "m.card.json").read_text())
    assert card["onnx"]["input"].startswith("image: float32 [batch, 1, 8, 8]") and card["int8"]["test_acc"] > 50
    assert card["activation_bytes"] <= 1024 and card["macs"] <= 20_000 and card["params"] <= 999
    assert card["classes"] == [str(k) for k in range(10)]
