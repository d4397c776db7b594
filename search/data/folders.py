"""A user's images as a folder of class folders (torchvision's ImageFolder layout):

    DATA/train/<class>/*.png|jpg   and   DATA/test/<class>/*.png|jpg

or class folders only (DATA/<class>/...), when a test split of `TEST_SHARE` per class is carved
with a fixed seed. Classes are the folder names in sorted order. Every image has one size (a
spec's `resize` applies after reading); grayscale images give one channel, otherwise all are
read as RGB. A file that is no image, a class folder with no image, a class in test/ that
train/ lacks: one line naming it.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from search.data.arrays import Arrays
from search.errors import TinynasError
from search.limits import MAX_ARRAY_FILE_BYTES, MAX_CLASSES, MIN_IMAGE_SIDE

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
TEST_SHARE = 0.2
"""Of each class, when the folder has no test/ of its own (seed `CARVE_SEED`)."""
CARVE_SEED = 0
EXTRA = "pip install 'tinynas[images]'  (Pillow)"


def is_image_folder(dataset: str) -> bool:
    return Path(dataset).is_dir()


def read_folder(path: Path) -> Arrays:
    """The folder's images as arrays, checked, or one TinynasError naming the file and the fix."""
    return _read(Path(path).resolve())


@lru_cache(maxsize=4)
def _read(root: Path) -> Arrays:
    split = (root / "train").is_dir()
    train_root = root / "train" if split else root
    classes = sorted(p.name for p in train_root.iterdir() if p.is_dir())
    if not classes:
        raise TinynasError(
            f"dataset {root}: no class folders; lay it out as train/<class>/*.png and test/<class>/*.png, "
            "or <class>/*.png"
        )
    if len(classes) > MAX_CLASSES:
        raise TinynasError(f"dataset {root}: {len(classes):,} class folders, more than {MAX_CLASSES:,}")
    digest = hashlib.sha256()
    files = {c: _images_of(train_root / c) for c in classes}
    if split:
        test_root = root / "test"
        if not test_root.is_dir():
            raise TinynasError(f"dataset {root}: train/ has no test/ beside it; add test/<class>/ folders")
        unknown = sorted(p.name for p in test_root.iterdir() if p.is_dir() and p.name not in files)
        if unknown:
            raise TinynasError(f"dataset {root}: test/{unknown[0]} is a class train/ does not have")
        test_files = {c: _images_of(test_root / c, empty_ok=True) for c in classes}
        train_pairs = [(f, i) for i, c in enumerate(classes) for f in files[c]]
        test_pairs = [(f, i) for i, c in enumerate(classes) for f in test_files[c]]
    else:
        train_pairs, test_pairs = _carve(files, classes)
    if not test_pairs:
        raise TinynasError(f"dataset {root}: no test images; add test/<class>/ images, or more images per class")
    x_train, y_train = _load(root, train_pairs, digest)
    x_test, y_test = _load(root, test_pairs, digest)
    if x_test.shape[1:] != x_train.shape[1:]:
        channels = max(x_train.shape[1], x_test.shape[1])  # one grayscale part and one colour part: both RGB
        x_train, y_train = _load(root, train_pairs, digest, channels)
        x_test, y_test = _load(root, test_pairs, digest, channels)
    return Arrays(x_train, y_train, x_test, y_test, digest.hexdigest()[:16], tuple(classes))


def _images_of(folder: Path, empty_ok: bool = False) -> list[Path]:
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
    if not found and not empty_ok:
        raise TinynasError(f"dataset folder {folder} holds no image ({', '.join(SUFFIXES)}); remove it or add images")
    return found


def _carve(files: dict[str, list[Path]], classes: list[str]) -> tuple[list, list]:
    rng = np.random.default_rng(CARVE_SEED)
    train, test = [], []
    for i, c in enumerate(classes):
        order = rng.permutation(len(files[c]))
        cut = round(TEST_SHARE * len(order)) if len(order) > 1 else 0
        test += [(files[c][k], i) for k in sorted(order[:cut])]
        train += [(files[c][k], i) for k in sorted(order[cut:])]
    return train, test


def _check_size(root: Path, path: Path, hw: tuple[int, int], first: tuple[int, int] | None, planes: int) -> None:
    """An image's size, from its header: at least the smallest side, the first image's size,
    and (for the first) all the images together within what tinynas reads into memory."""
    name, (h, w) = path.relative_to(root), hw
    if min(h, w) < MIN_IMAGE_SIDE:
        raise TinynasError(
            f"dataset {root}: {name} is {w}x{h}; tinynas needs at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} pixels"
        )
    if first is not None and (h, w) != first:
        raise TinynasError(
            f"dataset {root}: {name} is {w}x{h}, the first image {first[1]}x{first[0]}; the images of a folder "
            "share one size (a spec's resize applies after reading): give every image one size"
        )
    if first is None and (total := planes * h * w) > MAX_ARRAY_FILE_BYTES:
        raise TinynasError(
            f"dataset {root}: its images of {w}x{h} would take {total:,} bytes decoded, more than the "
            f"{MAX_ARRAY_FILE_BYTES:,} tinynas reads; use fewer or smaller images"
        )


def _load(
    root: Path, pairs: list[tuple[Path, int]], digest, channels: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise TinynasError(f"reading a folder of images needs Pillow: {EXTRA}") from None
    images, size = [], None
    for path, _ in pairs:
        try:
            with Image.open(path) as image:  # the header only: sizes are checked before any decoding
                gray = image.mode in ("L", "1", "I", "I;16", "F")
                want = channels or (1 if gray else 3)
                _check_size(root, path, image.size[::-1], size, len(pairs) * want)
                image.load()
                pixels = np.asarray(image.convert("L" if want == 1 else "RGB"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise TinynasError(f"dataset {root}: {path.relative_to(root)} is not a readable image ({exc})") from None
        size = size or pixels.shape[:2]
        digest.update(str(path.relative_to(root)).encode() + pixels.tobytes())
        images.append(pixels)
    if not images:
        shape = (0, channels or 1, *(size or (MIN_IMAGE_SIDE, MIN_IMAGE_SIDE)))
        return torch.zeros(shape, dtype=torch.uint8), torch.zeros(0, dtype=torch.int64)
    if any(i.ndim != images[0].ndim for i in images):  # grayscale and colour mixed: every image as RGB
        return _load(root, pairs, digest, 3)
    stacked = np.stack(images)
    stacked = stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2)
    labels = torch.tensor([label for _, label in pairs], dtype=torch.int64)
    return torch.from_numpy(np.ascontiguousarray(stacked)), labels
