"""Verified downloads of a dataset's published files (pooch does the fetching and hashing).
pooch and requests are imported where a file is checked or fetched: every training process
imports this module, and most never download."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

from search.data.registry import DatasetInfo, RemoteFile
from search.errors import TinynasError

MIRROR_ENV = "TINYNAS_MIRROR"
OFFLINE_ENV = "TINYNAS_OFFLINE"
"""Set (to anything but empty or 0) to never download: a missing dataset is then an error at once."""


def _candidates(remote: RemoteFile) -> list[tuple[str, str]]:
    plain = [(remote.name.removesuffix(".gz"), remote.plain_md5)] if remote.plain_md5 else []
    return [(remote.name, remote.md5), *plain]


def _present(path: Path, md5: str) -> bool:
    import pooch

    return path.is_file() and pooch.file_hash(str(path), alg="md5") == md5


def _retrieve(url: str, md5: str, target: Path, progress: bool) -> None:
    import pooch

    pooch.retrieve(url, known_hash=f"md5:{md5}", fname=target.name, path=target.parent, progressbar=progress)


def fetch_file(remote: RemoteFile, base_url: str, folder: Path, progress: bool = False) -> Path:
    """The published .gz, or the uncompressed file where the mirror has only that."""
    import requests

    for name, md5 in _candidates(remote):
        if _present(folder / name, md5):
            return folder / name
    last_error = ""
    for name, md5 in _candidates(remote):
        url = base_url.rstrip("/") + "/" + name
        try:
            _retrieve(url, md5, folder / name, progress)
            return folder / name
        except requests.HTTPError as exc:
            last_error = f"{url}: HTTP {exc.response.status_code if exc.response is not None else '?'}"
        except requests.RequestException as exc:
            raise TinynasError(
                f"cannot reach {url} ({exc.__class__.__name__}); check the network or --mirror / ${MIRROR_ENV}"
            ) from None
        except ValueError as exc:
            if "hash" not in str(exc).lower():
                raise
            raise TinynasError(
                f"checksum mismatch for {name} from {url}: expected md5 {md5}; the file "
                "was not kept. Use a mirror that serves the published files"
            ) from None
    raise TinynasError(f"no mirror file for {remote.name}: {last_error}")


def fetch(info: DatasetInfo, root: Path, mirror: str | None = None, progress: bool = False) -> list[Path]:
    """Download what is missing into <root>/<Dir>/raw, checking every file's MD5. A failed
    fetch leaves no folder behind that it created."""
    if info.path is not None:
        raise TinynasError(f"{info.name} is a file of your own, not a published dataset: there is nothing to fetch")
    import pooch

    pooch.get_logger().setLevel(logging.WARNING)
    base = mirror or os.environ.get(MIRROR_ENV) or info.mirror
    if not base.startswith(("https://", "http://", "ftp://")):
        raise TinynasError(f"mirror {base[:200]!r} is not a URL: give --mirror / ${MIRROR_ENV} as https://host/path/")
    folder = info.raw_dir(root)
    created = [p for p in (root, root / info.directory, folder) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TinynasError(f"cannot create {folder}: {exc.strerror}; choose another --data-dir") from None
    try:
        return [fetch_file(remote, base, folder, progress) for remote in info.files.values()]
    except BaseException:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()  # only if empty: a file that did arrive is kept
        raise


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def ensure(info: DatasetInfo, root: Path) -> None:
    """Data on first use: a dataset not under `root` is fetched there (verified, with a
    progress bar on stderr), unless offline; then a missing dataset is one line saying what to do."""
    if info.present(root):
        return
    if offline():
        return  # reading the missing file says what is missing and how to fetch it
    interactive = sys.stderr.isatty()  # a person watching: say what is happening; a pipe gets only errors
    if interactive:
        print(f"{info.name} not found under {root}: fetching the published files (MD5-checked)", file=sys.stderr)
    try:
        fetch(info, root, progress=interactive)
    except TinynasError as exc:
        raise TinynasError(
            f"{info.name} data not found under {root} and the download failed ({exc}). Put the "
            f"files in {info.raw_dir(root)}, point --data-dir / TINYNAS_DATA at a folder holding "
            f"{info.directory}/raw, or run `tinynas data fetch {info.name} --mirror URL`"
        ) from None
