"""Knowledge distillation: the student's loss against a teacher's soft targets, and the
trained teacher a run distils from (`search.training.teachers` trains and caches them)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Teacher:
    """A trained teacher: its module (evaluation mode) and what identifies it in records."""

    name: str
    module: nn.Module
    weights: str
    """sha256 (16 hex digits) of its weights: the exact teacher a result was distilled from."""
    images: str
    """sha256 (16 hex digits) of the training images (and labels) it was trained on."""
    params: int
    acc: float
    """Its accuracy (%) at its final epoch on the evaluation split it was trained beside."""

    def identity(self) -> dict[str, object]:
        """What a trial record, an export's provenance and a retrain's summary keep of it."""
        return {"name": self.name, "weights": self.weights, "images": self.images, "params": self.params,
                "acc": self.acc}  # fmt: skip


def distill_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    temperature: float,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Per replica, (1 - alpha) x cross-entropy + alpha x T^2 x KL(p_teacher || p_student),
    both softmaxes at temperature T, each term averaged over the batch (Hinton et al., 2015).

    student, teacher: logits (N, K, classes) for K replicas; labels (N, K). Returns (K,).
    """
    n, k, c = student.shape
    ce = F.cross_entropy(
        student.reshape(n * k, c), labels.reshape(n * k), label_smoothing=label_smoothing, reduction="none"
    ).view(n, k)
    t = temperature
    kl = F.kl_div(
        F.log_softmax(student / t, dim=-1), F.log_softmax(teacher / t, dim=-1), reduction="none", log_target=True
    ).sum(-1)
    return ((1 - alpha) * ce + alpha * t * t * kl).mean(0)


def teacher_input(x: torch.Tensor, replicas: int) -> torch.Tensor:
    """A fused batch (N, K*C, H, W), replica-major channel blocks, as (N*K, C, H, W) images for the
    teacher: row n*K + r is replica r's n-th image, so its logits view as (N, K, classes)."""
    return x if replicas == 1 else x.unflatten(1, (replicas, -1)).flatten(0, 1)


def weights_digest(module: nn.Module) -> str:
    import hashlib

    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
