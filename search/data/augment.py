"""Whole-batch augmentation: one affine grid per sample, drawn from the run's generator."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROTATION_DEG = 15.0
MAX_SHIFT = 0.10
"""The `augment` shorthand at strength 1: rotations up to +-15 degrees and shifts up to
+-10% of the image side (no zoom)."""


def augment(
    x: torch.Tensor,
    rotate: float,
    translate: float,
    scale: float,
    generator: torch.Generator,
    background: float,
    flip: bool = False,
) -> torch.Tensor:
    """Random affine transforms of a normalised batch (N, C, H, W), one per image: rotation up
    to +-rotate degrees, shifts up to +-translate of the side on each axis, zoom by a factor
    within 1 +- scale; with `flip`, then half the images mirrored left to right. All drawn from
    `generator` on the batch's device (the flips after the affine draws, and only when asked
    for, so runs without them keep their random stream).

    Pixels that come in from outside the image take the background value, not zero,
    because the batch is already normalised.
    """
    x = _affine(x, rotate, translate, scale, generator, background)
    if not flip:
        return x
    mirrored = torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5
    return torch.where(mirrored[:, None, None, None], x.flip(-1), x)


def _affine(
    x: torch.Tensor, rotate: float, translate: float, scale: float, generator: torch.Generator, background: float
) -> torch.Tensor:
    if rotate <= 0 and translate <= 0 and scale <= 0:
        return x
    n = x.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator, device=x.device) * 2 - 1) * limit

    angle = uniform(math.radians(rotate))
    shift = torch.stack([uniform(2 * translate), uniform(2 * translate)], dim=1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    if scale > 0:  # drawn only when asked for, so rotation-and-shift runs keep their random stream
        zoom = 1 + uniform(scale)
        cos, sin = cos * zoom, sin * zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x - background, grid, align_corners=False) + background
