"""Denormal weights and a training step: seconds per step with a share of each conv's weights
denormal, computed on as they are and flushed to zero.

A weight that decays towards zero passes through the denormal floats (magnitudes below
1.2e-38), and a CPU handles such operands slowly. A preset model (`sub5k-t0` by default),
batch 32 of synthetic images (the arithmetic is measured, not the data), one process. A step
is the forward, the backward and an Adam update at learning rate 0, so the weights keep their
denormals from step to step. Every arm is measured `--repeats` times, alternating, and the
best of each kept; ratios are against the arm with no denormal weights and nothing flushed,
in the same run.

    python benchmarks/denormals.py --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from models import build, count_params, preset
from search.training import cpu_name

TINY = 1e-40  # a float32 denormal


def with_denormals(net: nn.Module, share: float, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """The net's state with `share` of every conv's weights replaced by +-TINY."""
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for name, w in state.items():
        if name.endswith("weight") and w.dim() == 4:
            hit = torch.rand(w.shape, generator=gen) < share
            sign = torch.where(torch.rand(w.shape, generator=gen) < 0.5, -1.0, 1.0)
            w[hit] = (sign * TINY)[hit]
    return state


def step_seconds(net: nn.Module, state: dict[str, torch.Tensor], flush: bool, steps: int) -> float:
    torch.set_flush_denormal(False)  # load the weights as they are, then choose
    net.load_state_dict(state)
    torch.set_flush_denormal(flush)
    opt = torch.optim.Adam(net.parameters(), lr=0.0)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 1, 28, 28, generator=gen).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (32,), generator=gen)
    for i in range(steps + 5):
        if i == 5:  # warm-up done
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sub5k-t0", help="a preset")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.01, 0.1])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = preset(args.model)
    net = build(config).to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    states = {share: with_denormals(net, share, gen) for share in args.shares}
    arms = [(share, flush) for share in args.shares for flush in (False, True)]
    best = {arm: float("inf") for arm in arms}
    for _ in range(args.repeats):
        for share, flush in arms:
            best[share, flush] = min(best[share, flush], step_seconds(net, states[share], flush, args.steps))
    print(f"{args.model} ({count_params(config):,} params), batch 32, {args.threads} thread(s), {cpu_name()}")
    print(f"{'denormal weights':>16} {'flushed':>8} {'ms/step':>8} {'ratio':>6}")
    base = best[args.shares[0], False]
    for share, flush in arms:
        ms = best[share, flush] * 1e3
        print(f"{share:>16.0%} {'yes' if flush else 'no':>8} {ms:>8.1f} {best[share, flush] / base:>5.2f}x")


if __name__ == "__main__":
    main()
