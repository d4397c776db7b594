"""Searched models as named experiments (timm-style): a model preset (`models.presets`) with
the recipe and provenance it was exported with, so `tinynas retrain sub5k-t83` retrains the
found configuration, not just its architecture under the reference's recipe.

Each entry is the `tinynas export` of its study as committed under studies/results/; a unit
test checks that they stay equal.
"""

from __future__ import annotations

from search.training.recipe import TrainConfig

# Recipes later studies started from (a [[start]] carries its recipe): written once, reused below.
_T83 = TrainConfig(
    lr=0.006971752660057315, batch_size=32, scheduler="linear", pct_start=0.19903453208544622,
    rotate=0.9360321233273031, translate=0.08032500644961711, scale=0.09, ema=0.999, seed=5,
)  # fmt: skip
_SUB1K_T1 = TrainConfig(
    lr=0.027317808122085372, batch_size=32, epochs=19, scheduler="linear", pct_start=0.12174721437379499,
    rotate=1.6508661759522714, translate=0.0632334013823496, scale=0.09, ema=0.999, seed=11,
)  # fmt: skip

SEARCHED: dict[str, tuple[TrainConfig, dict]] = {
    "sub5k-t83": (_T83, {"study": "sub5k", "trial": 83, "val_acc": 99.1625, "params": 4822}),
    "sub5k-t0": (  # trial 83's recipe, searched at 19 epochs
        _T83.model_copy(update={"epochs": 19}),
        {"study": "sub5k", "trial": 0, "val_acc": 99.36, "params": 4804},
    ),
    "sub4k-t23": (
        TrainConfig(
            lr=0.02309596530030345, batch_size=32, scheduler="onecycle", pct_start=0.18955008041754684,
            rotate=3.537052907966536, translate=0.07583770008294924, scale=0.09, ema=0.999, seed=6,
        ),
        {"study": "sub4k", "trial": 23, "val_acc": 99.1525, "params": 3390},
    ),
    "sub3k-t1": (
        TrainConfig(
            lr=0.0091, weight_decay=0.0005, batch_size=32, scheduler="linear", pct_start=0.287,
            label_smoothing=0.05, rotate=2.5, translate=0.08, scale=0.09, ema=0.999, seed=7,
        ),
        {"study": "sub3k", "trial": 1, "val_acc": 98.8625, "params": 2942},
    ),
    "sub2k-t1": (  # sub1k-t1's recipe, under the sub2k study's seed
        _SUB1K_T1.model_copy(update={"seed": 13}),
        {"study": "sub2k", "trial": 1, "val_acc": 99.11500000000001, "params": 1948},
    ),
    "sub1k-t1": (_SUB1K_T1, {"study": "sub1k", "trial": 1, "val_acc": 98.015, "params": 776}),
}  # fmt: skip
"""Preset name -> (the recipe it was found with, where it was found: an experiment's provenance)."""
