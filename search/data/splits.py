"""Whole splits as normalised tensors in memory, and the stratified carving of them.

The search selects on a validation split carved from the training images; only
`retrain` ever loads the test images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from search.data.cifar import read_cifar
from search.data.fetch import ensure
from search.data.idx import read_idx
from search.data.registry import REGISTRY, DatasetInfo, user_arrays
from search.errors import TinynasError
from search.limits import DEFAULT_VAL_SIZE


@dataclass(frozen=True)
class Split:
    """Images (N, C, H, W) float32, normalised (but in a `pixel_split`); labels (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device | str) -> Split:
        return Split(self.x.to(device), self.y.to(device))

    @cached_property
    def digest(self) -> str:
        """sha256 (16 hex digits) of the images and labels: which images a model was trained on.
        Computed once per split (a split's tensors are not changed in place)."""
        h = hashlib.sha256()
        for t in (self.x, self.y):
            h.update(str((tuple(t.shape), t.dtype)).encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


def _load_pair(info: DatasetInfo, root: Path, part: str) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, C, H, W) and their labels, resized when the dataset says so."""
    images, labels = _stored_pair(info, root, part)
    if info.resize is not None and tuple(images.shape[-2:]) != info.resize:
        images = resized(images, info.resize)
    return images, labels


def resized(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 images (N, C, H, W) at (height, width): bilinear, antialiased when shrinking (as
    PIL's and torchvision's resize), rounded back to uint8; in chunks, to bound the memory."""
    out = torch.empty((len(images), images.shape[1], *size), dtype=torch.uint8)
    for i in range(0, len(images), RESIZE_CHUNK):
        chunk = images[i : i + RESIZE_CHUNK].float()
        scaled = F.interpolate(chunk, size=size, mode="bilinear", antialias=True, align_corners=False)
        out[i : i + RESIZE_CHUNK] = scaled.round_().clamp_(0, 255).to(torch.uint8)
    return out


RESIZE_CHUNK = 4096
"""Images resized at once."""


def _stored_pair(info: DatasetInfo, root: Path, part: str) -> tuple[torch.Tensor, torch.Tensor]:
    if info.path is not None:
        arrays = user_arrays(info.path)
        return (arrays.x_train, arrays.y_train) if part == "train" else (arrays.x_test, arrays.y_test)
    ensure(info, root)
    if info.archive:
        return read_cifar(info.locate(root, "archive"), part)
    images = read_idx(info.locate(root, f"{part}_images"), ndim=3)
    labels = read_idx(info.locate(root, f"{part}_labels"), ndim=1)
    if len(images) != len(labels) or tuple(images.shape[1:]) != REGISTRY[info.name].shape[1:]:
        raise TinynasError(
            f"{info.name} {part}: {len(images)} images of {tuple(images.shape[1:])} but "
            f"{len(labels)} labels; the files do not belong together: fetch them again"
        )
    if int(labels.max()) >= info.classes:
        raise TinynasError(f"{info.name} {part}: label {int(labels.max())} >= {info.classes} classes")
    return images.unsqueeze(1), labels


def _pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 in [0, 1]."""
    return images.float().div_(255.0)


def channel_view(values: tuple[float, ...]) -> torch.Tensor:
    """Per-channel values shaped to broadcast over (N, C, H, W)."""
    return torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1)


def _normalise(info: DatasetInfo, images: torch.Tensor, labels: torch.Tensor) -> Split:
    x = _pixels(images).sub_(channel_view(info.mean)).div_(channel_view(info.std))
    return Split(x.contiguous(), labels.long())


def pixel_split(info: DatasetInfo, root: Path, part: str) -> Split:
    """A whole part ("train" or "test") as pixels in [0, 1], not normalised: what a deployed
    model, which normalises inside, is fed."""
    images, labels = _load_pair(info, root, part)
    return Split(_pixels(images).contiguous(), labels.long())


def stratified_pick(labels: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of n items with class proportions kept (largest remainder), and the rest."""
    if not 0 < n < len(labels):
        raise TinynasError(f"cannot take {n} of {len(labels)} images; choose 0 < n < {len(labels)}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / len(labels)
    take = np.floor(quota).astype(int)
    take[np.argsort(-(quota - take), kind="stable")[: n - take.sum()]] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take, strict=True)]
    chosen = np.sort(np.concatenate(picked))
    return chosen, np.setdiff1d(np.arange(len(labels)), chosen)


def share_of(split: Split, share: float, seed: int) -> Split:
    """A stratified share of a split (at least one image per class kept in proportion): the
    same images for the same seed, so runs on it are comparable."""
    n = max(1, round(share * len(split)))
    if n >= len(split):
        return split
    keep, _ = stratified_pick(split.y.cpu().numpy(), n, seed)
    index = torch.from_numpy(keep).to(split.y.device)
    return Split(split.x[index], split.y[index])


def _check_subset(subset: int | None, available: int) -> None:
    if subset is not None and subset > available:
        raise TinynasError(
            f"--subset {subset:,}: the training split holds {available:,} images; "
            f"pass at most {available} or leave --subset out to use them all"
        )


def validation_count(val_size: int | float, available: int) -> int:
    """Validation images for a `val_size` (a count, or a share of the training images)."""
    count = val_size if isinstance(val_size, int) else max(1, round(val_size * available))
    if count > available // 2:
        raise TinynasError(
            f"[run] val_size = {val_size}: the training images number {available:,}, and validation may take "
            f"at most half of them; set val_size to at most {available // 2:,} or a share such as 0.2"
        )
    return count


def search_splits(
    info: DatasetInfo, root: Path, val_size: int | float = DEFAULT_VAL_SIZE, seed: int = 0, subset: int | None = None
) -> tuple[Split, Split]:
    """(train, validation) from the training images; the test images are never read."""
    images, labels = _load_pair(info, root, "train")
    val_idx, train_idx = stratified_pick(labels.numpy(), validation_count(val_size, len(labels)), seed)
    _check_subset(subset, len(train_idx))
    if subset is not None and subset < len(train_idx):
        keep, _ = stratified_pick(labels.numpy()[train_idx], subset, seed + 1)
        train_idx = train_idx[keep]
    full = _normalise(info, images, labels)
    return Split(full.x[train_idx], full.y[train_idx]), Split(full.x[val_idx], full.y[val_idx])


def retrain_splits(info: DatasetInfo, root: Path, subset: int | None = None, seed: int = 0) -> tuple[Split, Split]:
    """(all training images, test images): only retrain/evaluation calls this."""
    train = _normalise(info, *_load_pair(info, root, "train"))
    _check_subset(subset, len(train))
    if subset is not None and subset < len(train):
        keep, _ = stratified_pick(train.y.numpy(), subset, seed)
        train = Split(train.x[keep], train.y[keep])
    return train, _normalise(info, *_load_pair(info, root, "test"))
