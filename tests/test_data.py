"""Data: IDX files read and checked, splits carved honestly, downloads verified."""

from __future__ import annotations

import gzip
import shutil
import struct
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

from search.datasets import dataset_info
from search.errors import TinynasError
from search.fetch import fetch
from search.idx import read_idx
from search.splits import retrain_splits, search_splits, stratified_pick


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path: Path, compress: bool) -> None:
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    path = write_idx(tmp_path / ("x.gz" if compress else "x"), array, compress)
    assert torch.equal(read_idx(path, ndim=3), torch.from_numpy(array.astype(np.uint8)))


def test_truncated_and_wrong_magic_files_are_named(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "images", np.zeros((5, 4, 4)))
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(TinynasError, match=r"images: header promises 80 bytes .* holds 73"):
        read_idx(path, ndim=3)
    with pytest.raises(TinynasError, match="wrong magic number 0x00000801"):
        read_idx(write_idx(tmp_path / "labels", np.zeros(5)), ndim=3)
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(TinynasError, match=r"bad\.gz: cannot read"):
        read_idx(tmp_path / "bad.gz", ndim=1)


def test_missing_data_says_where_it_looked_and_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(TinynasError) as info:
        search_splits(dataset_info("mnist"), tmp_path)
    assert str(tmp_path / "MNIST" / "raw") in str(info.value)
    assert "tinynas data fetch mnist" in str(info.value)


def test_stratified_pick_keeps_class_proportions() -> None:
    labels = np.repeat(np.arange(4), [100, 200, 300, 400])
    picked, rest = stratified_pick(labels, 100, seed=0)
    assert np.bincount(labels[picked]).tolist() == [10, 20, 30, 40]
    assert len(np.intersect1d(picked, rest)) == 0 and len(picked) + len(rest) == len(labels)
    assert np.array_equal(picked, stratified_pick(labels, 100, seed=0)[0])


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
