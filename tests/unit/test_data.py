"""Data: IDX files read and checked, splits carved honestly (synthetic files only)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from search.data import dataset_info, read_idx, search_splits, stratified_pick
from search.errors import TinynasError


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
