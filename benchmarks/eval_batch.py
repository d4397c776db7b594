"""Evaluation against its batch size: seconds to score 10,000 images, per batch size.

Every epoch of every run ends by scoring the whole validation split (10,000 images by default;
a retrain scores the 10,000 test images), so this cost is paid once per epoch per trial. Preset
models, synthetic images (the arithmetic is measured, not the data), evaluated the way the
trainer does (`search.training.loop.evaluate`: no gradients, eval mode, in the layout a run of
that many replicas trains in on that many threads); fused replicas as seeds per trial train
them. Every arm is measured `--repeats` times, alternating, and the best of each kept; ratios
are against the first batch size, in the same run.

    python benchmarks/eval_batch.py --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

import search.training.loop as loop
from models import build, count_params, fuse, preset
from search.data.splits import Split
from search.training import cpu_name
from search.training.device import fastest_layout


def seconds(net: torch.nn.Module, split: Split, fmt: torch.memory_format, k: int, batch: int) -> float:
    start = time.perf_counter()
    loop.evaluate(net, split, fmt, k, batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["seed-8k", "sub5k-t0", "sub2k-t1"], help="presets")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, nargs="+", default=[2000, 1000, 500, 256, 128, 85, 64])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    split = Split(
        torch.randn(args.images, 1, 28, 28, generator=gen), torch.randint(0, 10, (args.images,), generator=gen)
    )
    print(f"{args.images:,} images, {args.threads} thread(s), best of {args.repeats}, {cpu_name()}")
    print(f"{'model':>10} {'replicas':>8} {'layout':>13} " + " ".join(f"{b:>11}" for b in args.batches))
    for name in args.models:
        config = preset(name)
        for k in args.replicas:
            torch.manual_seed(0)
            net = build(config) if k == 1 else fuse(config, [build(config) for _ in range(k)])
            layout = fastest_layout("cpu", k, args.threads)
            fmt = loop.MEMORY_FORMATS[layout]
            net = net.to(memory_format=fmt)
            seconds(net, Split(split.x[:500], split.y[:500]), fmt, k, 500)  # warm-up
            best = {b: float("inf") for b in args.batches}
            for _ in range(args.repeats):
                for b in args.batches:
                    best[b] = min(best[b], seconds(net, split, fmt, k, b))
            base = best[args.batches[0]]
            cells = " ".join(f"{best[b]:>5.2f}s {base / best[b]:>4.1f}x" for b in args.batches)
            chosen = loop.eval_batch(torch.device("cpu"), k)
            print(
                f"{name:>10} {k:>8} {layout:>13} {cells}   ({count_params(config):,} params; tinynas: {chosen})",
                flush=True,
            )


if __name__ == "__main__":
    main()
