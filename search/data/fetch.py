"""Verified downloads of a dataset's published files (pooch does the fetching and hashing)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pooch
import requests

from search.data.registry import DatasetInfo, RemoteFile
from search.errors import TinynasError

MIRROR_ENV = "TINYNAS_MIRROR"


def _candidates(remote: RemoteFile) -> list[tuple[str, str]]:
    plain = [(remote.name.removesuffix(".gz"), remote.plain_md5)] if remote.plain_md5 else []
    return [(remote.name, remote.md5), *plain]


def _present(path: Path, md5: str) -> bool:
    return path.is_file() and pooch.file_hash(str(path), alg="md5") == md5


def _retrieve(url: str, md5: str, target: Path) -> None:
    pooch.retrieve(url, known_hash=f"md5:{md5}", fname=target.name, path=target.parent, progressbar=False)


def fetch_file(remote: RemoteFile, base_url: str, folder: Path) -> Path:
    """The published .gz, or the uncompressed file where the mirror has only that."""
    for name, md5 in _candidates(remote):
        if _present(folder / name, md5):
            return folder / name
    last_error = ""
    for name, md5 in _candidates(remote):
        url = base_url.rstrip("/") + "/" + name
        try:
            _retrieve(url, md5, folder / name)
            return folder / name
        except requests.HTTPError as exc:
            last_error = f"{url}: HTTP {exc.response.status_code if exc.response is not None else '?'}"
        except requests.RequestException as exc:
            raise TinynasError(f"cannot reach {url} ({exc.__class__.__name__}); check the network or "
                               f"--mirror / ${MIRROR_ENV}") from None  # fmt: skip
        except ValueError as exc:
            if "hash" not in str(exc).lower():
                raise
            raise TinynasError(f"checksum mismatch for {name} from {url}: expected md5 {md5}; the file "
                               "was not kept. Use a mirror that serves the published files") from None  # fmt: skip
    raise TinynasError(f"no mirror file for {remote.name}: {last_error}")


def fetch(info: DatasetInfo, root: Path, mirror: str | None = None) -> list[Path]:
    """Download what is missing into <root>/<Dir>/raw, checking every file's MD5."""
    pooch.get_logger().setLevel(logging.WARNING)
    base = mirror or os.environ.get(MIRROR_ENV) or info.mirror
    folder = info.raw_dir(root)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TinynasError(f"cannot create {folder}: {exc.strerror}; choose another --data-dir") from None
    return [fetch_file(remote, base, folder) for remote in info.files.values()]
