"""Where training runs: device choice and CPU threads, decided once at the boundary."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from search.errors import TinynasError, check_range, cores


def resolve_device(name: str) -> str:
    if name == "cpu":
        return "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TinynasError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
        return name
    raise TinynasError(f"unknown --device {name!r}; use cpu or cuda[:N]")


def check_threads(threads: int | None) -> int | None:
    """--threads, refused outside 1 to this machine's cores (before any work: `resolve_options`)."""
    return None if threads is None else check_range("--threads", threads, 1, cores())


def set_threads(threads: int | None) -> None:
    """Intra-op threads for this process; None keeps PyTorch's default (all cores)."""
    if (checked := check_threads(threads)) is not None:
        torch.set_num_threads(checked)


SIMD_FEATURES = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_int8",
    "asimd",
    "asimddp",
    "sve",
)
"""The CPU flags that change which kernels PyTorch and onnxruntime run (x86 and Arm)."""


def cpu_features() -> list[str]:
    """Which of `SIMD_FEATURES` this CPU has (from /proc/cpuinfo; empty where there is none)."""
    cpuinfo = Path("/proc/cpuinfo")
    flags: set[str] = set()
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = set(line.split(":", 1)[1].split())
                break
    return [f for f in SIMD_FEATURES if f in flags]


def cpu_name() -> str:
    """The CPU's model name and core count, as results name the machine they ran on."""
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name} ({os.cpu_count()} cores)"
