"""The CIFAR-10 python archive (`cifar-10-python.tar.gz`, as published): five training batches
and a test batch, each a pickled dict of a uint8 array (N, 3072) and a list of labels.

A pickle can name any Python callable; this reader's unpickler accepts only what NumPy needs to
rebuild an array, so an archive that is not what it claims raises an error instead of running code.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from search.errors import TinynasError

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
SHAPE = (3, 32, 32)
_NUMPY = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocol 2: str -> bytes, nothing else
}
"""The only globals a CIFAR batch pickle refers to."""


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refers to {module}.{name}, which a CIFAR batch never does")


def read_cifar(archive: Path, part: str) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 3, 32, 32) and int64 labels of the "train" or "test" part."""
    batches = _read(Path(archive).resolve())
    names = TRAIN_BATCHES if part == "train" else (TEST_BATCH,)
    images = np.concatenate([batches[n][0] for n in names])
    labels = np.concatenate([batches[n][1] for n in names])
    return torch.from_numpy(images), torch.from_numpy(labels)


@lru_cache(maxsize=2)
def _read(archive: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    fix = "fetch it again (`tinynas data fetch cifar10`) or check that it is the published archive"
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for name in (*TRAIN_BATCHES, TEST_BATCH):
                try:
                    member = tar.extractfile(f"{FOLDER}/{name}")
                except KeyError:
                    member = None
                if member is None:
                    raise TinynasError(f"{archive}: no {FOLDER}/{name} in it; {fix}")
                out[name] = _batch(archive, name, member.read())
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise TinynasError(f"{archive}: cannot read ({type(exc).__name__}: {exc}); {fix}") from None
    return out


def _batch(archive: Path, name: str, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _ArraysOnly(io.BytesIO(raw), encoding="bytes").load()
        data, labels = batch[b"data"], np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
        raise TinynasError(f"{archive}: {name} is not a CIFAR-10 batch ({exc})") from None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise TinynasError(f"{archive}: {name} holds no uint8 array of 3,072 pixels per image")
    if len(data) != len(labels) or labels.min() < 0 or labels.max() > 9:
        raise TinynasError(f"{archive}: {name} has {len(data):,} images and {len(labels):,} labels in 0..9 expected")
    return data.reshape(-1, *SHAPE), labels
