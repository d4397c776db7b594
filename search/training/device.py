"""Where training runs: device choice and CPU threads, decided once at the boundary."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from search.errors import TinynasError


def resolve_device(name: str) -> str:
    if name == "cpu":
        return "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TinynasError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
        return name
    raise TinynasError(f"unknown --device {name!r}; use cpu or cuda[:N]")


def set_threads(threads: int | None) -> None:
    """Intra-op threads for this process; None keeps PyTorch's default (all cores)."""
    if threads is not None:
        if threads < 1:
            raise TinynasError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)


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
