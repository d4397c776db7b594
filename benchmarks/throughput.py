"""Training throughput: tinynas's trainer vs the classic per-sample Dataset + DataLoader.

Both train the same model (seed-8k by default) with the same recipe, batch size and
threads, in one process on one machine, on real MNIST training images. The classic
pipeline is the official PyTorch MNIST example's: torchvision's MNIST dataset turns each
sample into a PIL image, then ToTensor and Normalize run per sample, and a shuffled
DataLoader (num_workers=0 on CPU) collates batches. torchvision does not import with the
CPU torch here, so those per-sample steps are reproduced with Pillow and torch exactly as
torchvision performs them. Prints images/second for both and the ratio.

    python benchmarks/throughput.py --data-dir data --images 12800 --threads 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from models import build, preset
from search.data import Split, data_root, dataset_info, read_idx, retrain_splits
from search.training import TrainConfig, train


class ClassicMNIST(Dataset):
    """torchvision.datasets.MNIST + ToTensor() + Normalize((0.1307,), (0.3081,)), per sample."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean: float, std: float) -> None:
        self.images, self.labels, self.mean, self.std = images, labels, mean, std

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        picture = Image.fromarray(self.images[i].numpy(), mode="L")  # MNIST.__getitem__
        x = torch.from_numpy(np.array(picture, np.uint8, copy=True))  # ToTensor
        x = x.view(picture.size[1], picture.size[0], 1).permute(2, 0, 1).contiguous()
        x = x.to(dtype=torch.get_default_dtype()).div(255)
        mean = torch.as_tensor((self.mean,), dtype=x.dtype).view(-1, 1, 1)  # Normalize
        std = torch.as_tensor((self.std,), dtype=x.dtype).view(-1, 1, 1)
        return x.sub_(mean).div_(std), int(self.labels[i])


def classic(model_name: str, cfg: TrainConfig, data: ClassicMNIST) -> float:
    torch.manual_seed(cfg.seed)
    model = build(preset(model_name))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=True, num_workers=0)
    model.train()
    start = time.perf_counter()
    for x, y in loader:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return len(data) / (time.perf_counter() - start)


def data_path_only(cfg: TrainConfig, data: ClassicMNIST) -> float:
    """The classic pipeline's batches without any training: its share of the step time."""
    start = time.perf_counter()
    for _ in DataLoader(data, batch_size=cfg.batch_size, shuffle=True, num_workers=0):
        pass
    return len(data) / (time.perf_counter() - start)


def ours(model_name: str, cfg: TrainConfig, split: Split, eval_split: Split) -> float:
    _, history = train(preset(model_name), cfg, split, eval_split)
    return len(split) / history.epochs[0].seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--model", default="seed-8k")
    parser.add_argument("--images", type=int, default=12800, help="training images per measured epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs; the best of each is kept")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    info = dataset_info("mnist")
    images = read_idx(info.locate(args.data_dir, "train_images"), 3)[: args.images]
    labels = read_idx(info.locate(args.data_dir, "train_labels"), 1)[: args.images]
    full, _ = retrain_splits(info, args.data_dir)
    split, eval_split = Split(full.x[: args.images], full.y[: args.images]), Split(full.x[:64], full.y[:64])
    cfg = TrainConfig(epochs=1, batch_size=args.batch_size)
    data = ClassicMNIST(images, labels, info.mean, info.std)
    classic_ips, ours_ips, loader_ips = 0.0, 0.0, 0.0
    for _ in range(args.repeats):
        classic_ips = max(classic_ips, classic(args.model, cfg, data))
        ours_ips = max(ours_ips, ours(args.model, cfg, split, eval_split))
        loader_ips = max(loader_ips, data_path_only(cfg, data))
    print(f"model {args.model}, batch {args.batch_size}, threads {args.threads}, {args.images} images/epoch")
    print(f"classic Dataset+DataLoader: {classic_ips:8.0f} images/s")
    print(f"tinynas trainer:            {ours_ips:8.0f} images/s")
    print(f"ratio: {ours_ips / classic_ips:.2f}x")
    loader_us, classic_us = 1e6 / loader_ips, 1e6 / classic_ips
    print(
        f"classic data path alone: {loader_us:.0f} us/image of the classic step's {classic_us:.0f} us/image "
        f"({100 * loader_us / classic_us:.0f}%); removing it entirely bounds the ratio at "
        f"{classic_us / (classic_us - loader_us):.2f}x"
    )


if __name__ == "__main__":
    main()
