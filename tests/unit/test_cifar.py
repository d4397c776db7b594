"""CIFAR-10 as published (the python archive): read on a small archive in the same format that
the test builds; an archive that is not what it claims is one line, and never runs code."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from search.data import dataset_info, retrain_splits, search_splits
from search.data.cifar import FOLDER, TEST_BATCH, TRAIN_BATCHES
from search.errors import TinynasError


def batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": [i % 10 for i in range(n)]}


def archive(root: Path, batches: dict[str, object]) -> Path:
    path = root / "CIFAR10" / "raw" / "cifar-10-python.tar.gz"
    path.parent.mkdir(parents=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, content in batches.items():
            raw = content if isinstance(content, bytes) else pickle.dumps(content, protocol=2)
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def small(root: Path, **replace: object) -> Path:
    batches: dict[str, object] = {name: batch(40, i) for i, name in enumerate(TRAIN_BATCHES)}
    batches[TEST_BATCH] = batch(30, 9)
    return archive(root, {**batches, **replace})


def test_the_archive_gives_rgb_splits_channels_first(tmp_path: Path) -> None:
    small(tmp_path)
    info = dataset_info("cifar10")
    assert info.shape == (3, 32, 32) and len(info.mean) == 3
    train, val = search_splits(info, tmp_path, val_size=0.25)
    assert (len(train), len(val)) == (150, 50) and tuple(train.x.shape[1:]) == (3, 32, 32)
    full, test = retrain_splits(info, tmp_path)
    assert (len(full), len(test)) == (200, 30)
    first = batch(40, 0)[b"data"][0].reshape(3, 32, 32)  # red plane, then green, then blue
    pixels = full.x[0] * torch_std(info) + torch_mean(info)
    assert np.allclose(pixels.numpy() * 255, first, atol=1e-3)


def torch_mean(info):
    import torch

    return torch.tensor(info.mean).view(3, 1, 1)


def torch_std(info):
    import torch

    return torch.tensor(info.std).view(3, 1, 1)


class Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (
            {TEST_BATCH: {b"data": Boom(), b"labels": [0]}},
            "test_batch is not a CIFAR-10 batch (refers to __builtin__.print",
        ),
        ({TEST_BATCH: b"not a pickle"}, "test_batch is not a CIFAR-10 batch"),
        ({TEST_BATCH: {b"data": np.zeros((3, 100), np.uint8), b"labels": [0, 1, 2]}}, "no uint8 array of 3,072"),
        ({TEST_BATCH: {b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1]}}, "has 3 images and 2 labels"),
    ],
)
def test_an_archive_that_is_not_what_it_claims_is_one_line(tmp_path: Path, replace: dict, message: str, capsys) -> None:
    from search.data.cifar import _read

    _read.cache_clear()
    small(tmp_path, **replace)
    with pytest.raises(TinynasError, match=__import__("re").escape(message)):
        retrain_splits(dataset_info("cifar10"), tmp_path)
    assert "this must never run" not in capsys.readouterr().out


def test_a_missing_batch_or_a_broken_file_names_the_fix(tmp_path: Path) -> None:
    from search.data.cifar import _read

    _read.cache_clear()
    path = archive(tmp_path, {name: batch(4, 0) for name in TRAIN_BATCHES})
    with pytest.raises(TinynasError, match=f"no {FOLDER}/{TEST_BATCH} in it; fetch it again"):
        retrain_splits(dataset_info("cifar10"), tmp_path)
    path.write_bytes(b"truncated")
    _read.cache_clear()
    with pytest.raises(TinynasError, match="cannot read"):
        retrain_splits(dataset_info("cifar10"), tmp_path)
