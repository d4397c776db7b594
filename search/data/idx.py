"""Reading IDX files (the MNIST family's format), plain or gzipped, with real checks."""

from __future__ import annotations

import gzip
import struct
import zlib
from math import prod
from pathlib import Path

import torch

from search.errors import TinynasError

UBYTE = 0x08


def read_idx(path: Path, ndim: int) -> torch.Tensor:
    """A uint8 tensor of the file's shape; a truncated or corrupt file names itself."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise TinynasError(f"{path}: cannot read ({exc}); delete it and fetch it again") from None
    if len(raw) < 4 or struct.unpack(">HBB", raw[:4]) != (0, UBYTE, ndim):
        raise TinynasError(
            f"{path}: wrong magic number 0x{raw[:4].hex()} (expected 0x0000{UBYTE:02x}{ndim:02x}); "
            "this is not an IDX file of the expected kind"
        )
    if len(raw) < 4 + 4 * ndim:
        raise TinynasError(f"{path}: truncated header ({len(raw)} bytes); delete it and fetch it again")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = raw[4 + 4 * ndim :]
    if len(body) != prod(shape):
        raise TinynasError(
            f"{path}: header promises {prod(shape):,} bytes of data for shape {shape}, "
            f"file holds {len(body):,}; it is truncated or corrupt: delete it and fetch it again"
        )
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(shape)
