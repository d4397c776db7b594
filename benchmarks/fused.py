"""Fused replicas vs the same replicas trained one after another: model-images per second.

K seeds of one configuration (same recipe, batch 64, same threads) train for one epoch on
real MNIST training images, once as K standalone runs one after another and once as one
fused network (`models.fuse`: grouped convs, per-replica BN), in one process. Both arms
are measured `--repeats` times, alternating, and the best of each is kept. The last line
printed is the K=4 ratio for the sub5k trial-54 configuration (fused vs tinynas's own
sequential runs, both channels-last); a column also shows single runs in the contiguous
layout, which on some CPUs is faster for a lone tiny model.

    python benchmarks/fused.py --data-dir data --threads 2
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from models import ModelConfig, preset
from search.data import Split, data_root, dataset_info, retrain_splits
from search.training import TrainConfig, load_experiment, train_replicas

TRIAL_54 = Path(__file__).resolve().parents[1] / "studies" / "results" / "sub5k-best.json"


def epoch_seconds(
    config: ModelConfig, cfgs: list[TrainConfig], split: Split, eval_split: Split, device: str, layout="channels_last"
) -> float:
    start = time.perf_counter()
    cfgs = [c.model_copy(update={"layout": layout}) for c in cfgs]
    train_replicas(config, cfgs, split, eval_split, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def measure(
    config: ModelConfig, k: int, split: Split, eval_split: Split, repeats: int, device: str
) -> tuple[float, float, float]:
    """(sequential, sequential with a contiguous layout, fused) model-images per second for K
    replicas. The trainer runs single models channels-last on CPU, as the fused ones need;
    the contiguous column shows what a single model would get in the other layout."""
    cfgs = [TrainConfig(epochs=1, batch_size=64, seed=s) for s in range(k)]
    epoch_seconds(config, cfgs, split, eval_split, device)  # warm-up: allocator, oneDNN kernels
    sequential, contiguous, fused = float("inf"), float("inf"), float("inf")
    for _ in range(repeats):
        sequential = min(sequential, sum(epoch_seconds(config, [c], split, eval_split, device) for c in cfgs))
        if device == "cpu":
            plain = sum(epoch_seconds(config, [c], split, eval_split, device, "contiguous") for c in cfgs)
            contiguous = min(contiguous, plain)
        fused = min(fused, epoch_seconds(config, cfgs, split, eval_split, device))
    images = k * len(split)
    return images / sequential, images / contiguous, images / fused


def profile(config: ModelConfig, split: Split, eval_split: Split, device: str) -> None:
    """Where a training step's time goes, K=1 vs K=4 fused: per op, milliseconds per step."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    steps = -(-len(split) // 64)
    tables = {}
    for k in (1, 4):
        cfgs = [TrainConfig(epochs=1, batch_size=64, seed=s) for s in range(k)]
        epoch_seconds(config, cfgs, split, eval_split, device)  # warm-up
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            epoch_seconds(config, cfgs, split, eval_split, device)
        tables[k] = {e.key: e.self_cpu_time_total / 1000 / steps for e in prof.key_averages()}
    top = sorted(tables[4], key=lambda key: -tables[4][key])[:10]
    print(f"{'op':<36} {'K=1 ms/step':>12} {'K=4 ms/step':>12} {'ratio':>6}")
    for key in top:
        one, four = tables[1].get(key, 0.0), tables[4][key]
        print(f"{key:<36} {one:>12.2f} {four:>12.2f} {four / one if one else float('inf'):>5.1f}x")
    print(
        f"{'all ops':<36} {sum(tables[1].values()):>12.2f} {sum(tables[4].values()):>12.2f} "
        f"{sum(tables[4].values()) / sum(tables[1].values()):>5.1f}x  (4x the images)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--images", type=int, default=6400, help="training images per replica and epoch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--ks", default="1,2,4,8")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profile", action="store_true", help="per-op profile of one epoch at K=1 and K=4 instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    full, _ = retrain_splits(dataset_info("mnist"), args.data_dir)
    split, eval_split = Split(full.x[: args.images], full.y[: args.images]), Split(full.x[:64], full.y[:64])
    models = {"sub5k trial 54": load_experiment(TRIAL_54).model, "seed-8k": preset("seed-8k")}
    if args.profile:
        profile(models["sub5k trial 54"], split, eval_split, args.device)
        return
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{platform.processor() or 'CPU'}"
    print(f"{where}, {args.threads} threads, torch {torch.__version__}, batch 64, {args.images} images per replica")
    print(
        f"{'model':<16} {'K':>2} {'sequential img/s':>17} {'(contiguous)':>13} {'fused img/s':>12} {'speedup':>8} "
        f"{'(vs contiguous)':>16}"
    )
    speedup_54 = None
    for name, config in models.items():
        for k in (int(v) for v in args.ks.split(",")):
            seq, plain, fused = measure(config, k, split, eval_split, args.repeats, args.device)
            print(
                f"{name:<16} {k:>2} {seq:>17,.0f} {plain:>13,.0f} {fused:>12,.0f} {fused / seq:>7.2f}x "
                f"{fused / plain:>15.2f}x",
                flush=True,
            )
            if name == "sub5k trial 54" and k == 4:
                speedup_54 = fused / seq
    if speedup_54 is not None:
        print(f"fused speedup at K=4: {speedup_54:.2f}x")


if __name__ == "__main__":
    main()
