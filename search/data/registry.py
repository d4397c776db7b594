"""The dataset registry: where each dataset's IDX files live and how to verify them; a
`dataset` that names a `.npz` file is the user's own (`search.data.arrays`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from search.data.arrays import Arrays, is_array_file, read_arrays
from search.data.folders import is_image_folder, read_folder
from search.errors import TinynasError
from search.limits import DATA_ENV, DEFAULT_DATA_DIR, MAX_RESIZE_SIDE, MIN_IMAGE_SIDE

ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class RemoteFile:
    """A published .gz file; plain_md5 lets mirrors that serve it uncompressed be verified too."""

    name: str
    md5: str
    plain_md5: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """Published file names and checksums, plus what training needs to know."""

    name: str
    directory: str
    mirror: str
    files: dict[str, RemoteFile]
    mean: tuple[float, ...]
    """Per channel, of the training pixels in [0, 1]."""
    std: tuple[float, ...]
    classes: int = 10
    shape: tuple[int, int, int] = (1, 28, 28)
    path: Path | None = None
    """A user's own data, a .npz or a folder of class folders (`files` is empty)."""
    class_names: tuple[str, ...] = ()
    """Where the data names its classes (a folder's class folders)."""
    digest: str | None = None
    """A user's data: sha256 (16 hex digits) of its content, so a study, an export and a retrain
    can tell the data they were made on from other data at the same path."""
    archive: bool = False
    """Published as one archive (`files` has the role "archive", search.data.cifar reads it)
    instead of the IDX files of the MNIST family."""
    resize: tuple[int, int] | None = None
    """(height, width) every image is resized to as it is read (`shape` says so); None: as stored."""

    def raw_dir(self, root: Path) -> Path:
        return root / self.directory / "raw"

    def _found(self, root: Path, role: str) -> Path | None:
        """The plain IDX file if present, else the published .gz next to it, else None."""
        gz = self.raw_dir(root) / self.files[role].name
        candidates = (gz,) if self.archive else (gz.with_suffix(""), gz)
        return next((c for c in candidates if c.is_file()), None)

    def present(self, root: Path) -> bool:
        """Every file there (plain or .gz); their contents are checked when read."""
        return self.path is not None or all(self._found(root, role) is not None for role in self.files)

    def locate(self, root: Path, role: str) -> Path:
        """The plain IDX file if present, else the published .gz next to it."""
        if (found := self._found(root, role)) is not None:
            return found
        gz = self.raw_dir(root) / self.files[role].name
        plain = gz.with_suffix("")
        names = gz.name if self.archive else f"{plain.name} or {gz.name}"
        raise TinynasError(
            f"{self.name} data not found: no {names} in {gz.parent}. "
            f"Fetch it with `tinynas data fetch {self.name} --data-dir {root}`, or point "
            f"--data-dir / TINYNAS_DATA at a folder holding {self.directory}/raw"
        )


def _files(md5s: tuple[str, ...], plain_md5s: tuple[str | None, ...] = (None,) * 4) -> dict[str, RemoteFile]:
    names = [
        f"{p}-{k}-ubyte.gz"
        for p, k in (
            ("train", "images-idx3"),
            ("train", "labels-idx1"),
            ("t10k", "images-idx3"),
            ("t10k", "labels-idx1"),
        )
    ]
    return {
        role: RemoteFile(name, md5, plain)
        for role, name, md5, plain in zip(ROLES, names, md5s, plain_md5s, strict=True)
    }


REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="mnist",
            directory="MNIST",
            mirror="https://ossci-datasets.s3.amazonaws.com/mnist/",
            files=_files(("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                          "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
                         ("6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
                          "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637")),
            mean=(0.1307,),
            std=(0.3081,),
        ),
        DatasetInfo(
            name="fashion-mnist",
            directory="FashionMNIST",
            mirror="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            files=_files(("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                          "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")),
            mean=(0.2860,),
            std=(0.3530,),
        ),
        DatasetInfo(
            name="kmnist",
            directory="KMNIST",
            mirror="http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
            files=_files(("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
                          "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134")),
            mean=(0.1918,),
            std=(0.3483,),
        ),
        DatasetInfo(
            name="cifar10",
            directory="CIFAR10",
            mirror="https://www.cs.toronto.edu/~kriz/",
            files={"archive": RemoteFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")},
            mean=(0.4914, 0.4822, 0.4465),  # of the 50,000 training images, as published with the data
            std=(0.2470, 0.2435, 0.2616),
            shape=(3, 32, 32),
            archive=True,
            class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        ),
    )
}  # fmt: skip


def dataset_info(name: str, resize: tuple[int, int] | None = None) -> DatasetInfo:
    """A registered dataset, or the user's own data named by its path (a .npz, or a folder of
    class folders): shape, classes and normalisation from its training images (as stored);
    with `resize`, every image is read at (height, width) instead."""
    info = _stored(name)
    if resize is None or tuple(resize) == info.shape[1:]:
        return info
    h, w = resize
    if not (MIN_IMAGE_SIDE <= h <= MAX_RESIZE_SIDE and MIN_IMAGE_SIDE <= w <= MAX_RESIZE_SIDE):
        raise TinynasError(f"resize = [{h}, {w}]: each side must be {MIN_IMAGE_SIDE} to {MAX_RESIZE_SIDE} pixels")
    return replace(info, shape=(info.shape[0], h, w), resize=(h, w))


def _stored(name: str) -> DatasetInfo:
    if name in REGISTRY:  # a registered name wins over a folder of that name where tinynas runs
        return REGISTRY[name]
    if not (is_array_file(name) or is_image_folder(name)):
        raise TinynasError(
            f"unknown dataset {name!r}; choose one of: {', '.join(REGISTRY)}, or name a .npz file or a folder "
            "of class folders of your own"
        )
    arrays = user_arrays(Path(name))
    mean, std = arrays.statistics
    return DatasetInfo(
        name, "", "", {}, mean, std, classes=arrays.classes, shape=arrays.shape, path=Path(name).resolve(),
        class_names=arrays.class_names, digest=arrays.digest,
    )  # fmt: skip


def user_arrays(path: Path) -> Arrays:
    """A user's own data, read once per process: a folder of class folders, or a .npz."""
    return read_folder(path) if path.is_dir() else read_arrays(path)


def data_root(option: Path | None) -> Path:
    """--data-dir, else $TINYNAS_DATA, else ./data."""
    if option is not None:
        return option
    return Path(os.environ.get(DATA_ENV, DEFAULT_DATA_DIR))
