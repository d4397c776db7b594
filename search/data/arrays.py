"""A user's own images as a NumPy archive: `x_train, y_train, x_test, y_test` in one `.npz`.

Images are N x H x W (one channel), N x H x W x C or N x C x H x W (C of 1, 3 or 4; the
smaller of the two ends is taken as the channels), uint8 pixels or floats in [0, 1]. Labels
are integers 0..K-1 and every class appears in the training images. Everything a model needs
to know (shape, classes, per-channel mean and standard deviation) comes from the training
images; a file that breaks a rule is refused naming the array and the fix, before anything runs.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import torch

from search.errors import TinynasError
from search.limits import MAX_ARRAY_FILE_BYTES, MAX_CLASSES, MIN_IMAGE_SIDE

KEYS = ("x_train", "y_train", "x_test", "y_test")
CHANNELS = (1, 3, 4)


def is_array_file(dataset: str) -> bool:
    """A study's `dataset` names a NumPy archive (a path), not a registered dataset."""
    return dataset.endswith(".npz")


@dataclass(frozen=True)
class Arrays:
    """The four arrays, checked: images uint8 (N, C, H, W), labels int64 (N,)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    digest: str
    """sha256 (16 hex digits) of the file: which data a study searched."""
    class_names: tuple[str, ...] = ()
    """The classes' names where the data has them (a folder's class folders); else 0..K-1."""

    @property
    def classes(self) -> int:
        return int(self.y_train.max()) + 1

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    @cached_property
    def statistics(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and standard deviation of the training pixels in [0, 1]: computed once
        per file and process (the arrays are read once, `dataset_info` is asked many times)."""
        x = self.x_train.float().div_(255.0)
        return tuple(x.mean(dim=(0, 2, 3)).tolist()), tuple(x.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist())


def read_arrays(path: Path) -> Arrays:
    """The archive's arrays, checked, or one TinynasError naming the file, the array and the fix.
    Read once per process (a search reads the training part, a retrain both)."""
    return _read(Path(path).resolve())


@lru_cache(maxsize=4)
def _read(path: Path) -> Arrays:
    if not path.is_file():
        raise TinynasError(f"dataset {path}: no such file; name a .npz holding {', '.join(KEYS)}")
    size = path.stat().st_size
    if size > MAX_ARRAY_FILE_BYTES:
        raise TinynasError(
            f"dataset {path} is {size:,} bytes, more than the {MAX_ARRAY_FILE_BYTES:,} tinynas reads into "
            "memory; use a subset of the images"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:  # arrays only: never unpickles code
            missing = [k for k in KEYS if k not in archive.files]
            if missing:
                raise TinynasError(
                    f"dataset {path} has no {', '.join(missing)}; a .npz dataset holds {', '.join(KEYS)} "
                    f"(it holds {', '.join(archive.files) or 'nothing'})"
                )
            arrays = {k: archive[k] for k in KEYS}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise TinynasError(f"dataset {path} is not a readable .npz ({type(exc).__name__}: {exc})") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    x_train, y_train = _pair(path, "train", arrays["x_train"], arrays["y_train"])
    x_test, y_test = _pair(path, "test", arrays["x_test"], arrays["y_test"])
    if x_test.shape[1:] != x_train.shape[1:]:
        raise TinynasError(
            f"dataset {path}: x_test images are {tuple(x_test.shape[1:])}, x_train images "
            f"{tuple(x_train.shape[1:])}; both parts need one shape"
        )
    found = Arrays(x_train, y_train, x_test, y_test, digest)
    absent = sorted(set(range(found.classes)) - set(y_train.unique().tolist()))
    if absent:
        raise TinynasError(
            f"dataset {path}: y_train has no image of class {', '.join(map(str, absent[:5]))}; labels are "
            f"0..K-1 with every class in the training images"
        )
    if int(y_test.max()) >= found.classes:
        raise TinynasError(f"dataset {path}: y_test has label {int(y_test.max())}, no training image has it")
    return found


def _pair(path: Path, part: str, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    where = f"dataset {path}: "
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise TinynasError(f"{where}y_{part} is {y.dtype} of shape {y.shape}; labels are one integer per image")
    if len(x) != len(y) or len(y) == 0:
        raise TinynasError(f"{where}x_{part} holds {len(x):,} images but y_{part} {len(y):,} labels; they must match")
    if y.min() < 0 or y.max() >= MAX_CLASSES:
        bad = int(y.min()) if y.min() < 0 else int(y.max())
        raise TinynasError(f"{where}y_{part} has label {bad}; labels are 0..K-1 with K at most {MAX_CLASSES}")
    return _images(where, part, x), torch.from_numpy(y.astype(np.int64))


def _images(where: str, part: str, x: np.ndarray) -> torch.Tensor:
    """uint8 (N, C, H, W) from any of the layouts and pixel types the module names."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in CHANNELS and x.shape[1] not in CHANNELS:
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim != 4 or x.shape[1] not in CHANNELS:
        raise TinynasError(
            f"{where}x_{part} has shape {x.shape}; images are N x H x W, N x H x W x C or N x C x H x W "
            f"with C in {', '.join(map(str, CHANNELS))}"
        )
    if min(x.shape[2:]) < MIN_IMAGE_SIDE:
        raise TinynasError(
            f"{where}x_{part} images are {x.shape[2]}x{x.shape[3]}; tinynas needs at least "
            f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} pixels (a 3x3 conv and a pool)"
        )
    if x.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(x))
    if not np.issubdtype(x.dtype, np.floating):
        raise TinynasError(f"{where}x_{part} is {x.dtype}; pixels are uint8 (0..255) or floats in [0, 1]")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise TinynasError(
            f"{where}x_{part} has float pixels outside [0, 1] (or nan); scale them to [0, 1] or store uint8"
        )
    return torch.from_numpy(np.ascontiguousarray(np.round(x * 255.0).astype(np.uint8)))
