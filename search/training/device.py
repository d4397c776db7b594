"""Where training runs: device choice and CPU threads, decided once at the boundary."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from search.errors import TinynasError, check_range, cores
from search.limits import MAX_JOBS_PER_CORE
from search.training.recipe import Layout


def resolve_device(name: str) -> str:
    if name == "cpu":
        return "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TinynasError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
        return name
    raise TinynasError(f"unknown --device {name!r}; use cpu or cuda[:N]")


def fastest_layout(device: str, replicas: int, threads: int | None) -> Layout:
    """The memory layout a run trains in (recorded in each trial, so retrain replays it). On a
    CPU, measured by benchmarks/cores.py and benchmarks/fused.py: fused replicas (grouped
    convs) and a lone model on one thread run faster channels-last; a lone model on several
    threads runs faster contiguous. On a GPU, cuDNN's default (contiguous)."""
    if device != "cpu":
        return "contiguous"
    return "contiguous" if replicas == 1 and (threads or cores()) > 1 else "channels_last"


@dataclass(frozen=True)
class Resources:
    """Where training runs and how it spreads over the machine: resolved once from what the
    user set (`resources`), then passed whole to whatever trains."""

    device: str = "cpu"
    """'cpu', or 'cuda[:N]' (checked available by `resources`)."""
    workers: int = 1
    """Worker processes on this machine, each training its own runs."""
    threads: int | None = None
    """PyTorch threads of each worker process; None: PyTorch's default (every core)."""

    def layout(self, replicas: int) -> Layout:
        """The memory layout a run of `replicas` fused seeds trains fastest in, here."""
        return fastest_layout(self.device, replicas, self.threads)


ONE_PROCESS = Resources()
"""The CPU, in this process, with PyTorch's default threads: what a bare call trains on."""


def resources(device: str = "cpu", jobs: int | None = None, threads: int | None = None) -> Resources:
    """From --device, --jobs and --threads, each refused in one line when out of range. Neither
    count: on a CPU one worker per core with one thread each, since tiny models scale badly
    across threads (their ops are too small to split) and separate runs on separate cores
    train more configurations per hour (benchmarks/cores.py); on a GPU one worker with
    PyTorch's default threads. Threads alone: one worker. Workers alone: the cores split
    between them."""
    device = resolve_device(device)
    if jobs is not None:
        check_range("--jobs", jobs, 1, MAX_JOBS_PER_CORE * cores())
    check_threads(threads)
    if jobs is None and threads is None:
        return Resources(device, cores(), 1) if device == "cpu" else Resources(device)
    jobs = jobs or 1
    return Resources(device, jobs, threads if threads is not None or jobs == 1 else max(1, cores() // jobs))


def fuses_seeds(device: str) -> bool:
    """Whether a retrain's seeds train as one fused network when there are several workers to
    spread them over. Not on a CPU: one run per seed on each core keeps them all busy, where a
    fused network is one process (with a single worker, fusing is the cheaper way: 2 fused
    seeds cost about 1.4x one seed on one core, benchmarks/cores.py). On a GPU a tiny model
    leaves the device idle between kernels, which fusion fills (HFTA)."""
    return device != "cpu"


def check_threads(threads: int | None) -> int | None:
    """--threads, refused outside 1 to this machine's cores (before any work: `resolve_options`)."""
    return None if threads is None else check_range("--threads", threads, 1, cores())


def set_threads(threads: int | None) -> None:
    """Intra-op threads for this process; None keeps PyTorch's default (all cores)."""
    if (checked := check_threads(threads)) is not None:
        torch.set_num_threads(checked)


@contextmanager
def denormals_flushed() -> Iterator[bool]:
    """Read and write denormal floats (magnitudes below 1.2e-38) as zero while inside (x86
    FTZ/DAZ, Arm's flush-to-zero), then restore the setting found. A weight or optimiser state
    decaying towards zero passes through that range, and a CPU computes on each denormal
    operand slowly, so a run that collects them slows down epoch after epoch
    (benchmarks/denormals.py). A value that small is zero to every sum a network makes. The
    setting is per thread: it covers this thread and the threads PyTorch starts while inside
    (a tinynas worker, one thread by default, does all its arithmetic on its own thread), not
    intra-op threads started earlier. Yields whether the CPU supports it."""
    before = _flushing()
    supported = bool(torch.set_flush_denormal(True))
    try:
        yield supported
    finally:
        torch.set_flush_denormal(before)


def _flushing() -> bool:
    """Whether this thread reads denormals as zero now: 1e-39 times 1 is zero only then."""
    return (torch.tensor([1e-39], device="cpu") * 1.0).item() == 0.0


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
