"""Whole-batch augmentation: one affine grid per sample, drawn from the run's generator."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROTATION_DEG = 15.0
MAX_SHIFT = 0.10
"""At strength 1: rotations up to +-15 degrees and shifts up to +-10% of the image side."""


def augment(x: torch.Tensor, strength: float, generator: torch.Generator, background: float) -> torch.Tensor:
    """Random small rotations and translations of a normalised batch (N, C, H, W).

    Pixels that come in from outside the image take the background value, not zero,
    because the batch is already normalised.
    """
    if strength <= 0:
        return x
    n = x.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator, device=x.device) * 2 - 1) * limit

    angle = uniform(math.radians(MAX_ROTATION_DEG * strength))
    shift = torch.stack([uniform(2 * MAX_SHIFT * strength), uniform(2 * MAX_SHIFT * strength)], dim=1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x - background, grid, align_corners=False) + background
