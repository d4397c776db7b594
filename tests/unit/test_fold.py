"""BatchNorm folding: the inference form computes the same logits as the trained model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models import build, cnn, fold_batchnorm


def _trained_like(model: nn.Module, seed: int) -> nn.Module:
    """Random BN statistics and affine parameters, as training would leave them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.randn(m.num_features, generator=g))
                m.bias.copy_(torch.randn(m.num_features, generator=g))
    return model.eval()


CASES = {
    "bn-relu, 1x1 head": dict(stages=[[6, 4], [8], [8]], tail=[6], order="bn-relu", head="conv1x1"),
    "relu-bn, transitions": dict(stages=[[6], [8, 8], [8]], tail=[6], order="relu-bn", transitions=[4, 6]),
    "relu-bn, linear head, bias": dict(stages=[[4], [8]], tail=[8, 8], order="relu-bn", head="linear", bias=True),
    "gap head, dropout": dict(stages=[[4, 4], [8]], tail=[10], order="bn-relu", head="gap", dropout=0.1),
    "shared convs": dict(stages=[[4], [8], [8]], shared=[2, 0, 3], order="bn-relu", head="conv1x1"),
    "separable and grouped, bn-relu": dict(
        stages=[[4, 6], [8, 8], [8]], kinds=["separable", "grouped", "separable"], tail=[6], order="bn-relu"
    ),
    "separable and grouped, relu-bn": dict(
        stages=[[4, 6], [8], [8, 8]], kinds=["grouped", "separable", "grouped"], transitions=[4, None], order="relu-bn"
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_folded_logits_equal_the_unfolded_ones(name: str) -> None:
    model = _trained_like(build(cnn(**CASES[name])), seed=len(name))
    folded, n_folded, n_kept = fold_batchnorm(model)
    x = torch.randn(16, 1, 28, 28)
    assert torch.allclose(folded(x), model(x), rtol=1e-4, atol=1e-4)
    bns = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert n_folded + n_kept == bns
    assert sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules()) == n_kept
    assert not any(isinstance(m, nn.Dropout) for m in folded.modules())


def test_every_bn_folds_in_the_bn_relu_order_and_the_input_is_untouched() -> None:
    model = _trained_like(build(cnn(**CASES["bn-relu, 1x1 head"])), seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _, n_folded, n_kept = fold_batchnorm(model)
    assert (n_folded, n_kept) == (5, 0)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_relu_bn_folds_only_where_no_zero_padding_follows() -> None:
    # BNs after the two stage convs before a pool + padded conv stay; the last stage's BN
    # folds into the unpadded tail conv and the tail's BN into the head
    _, n_folded, n_kept = fold_batchnorm(build(cnn(stages=[[4], [6], [8]], tail=[6], order="relu-bn")))
    assert (n_folded, n_kept) == (2, 2)
