"""The data layer: dataset registry, IDX files, verified downloads, splits, augmentation.

Imports nothing from the rest of `search` but `errors` and `limits`.
"""

from search.data.augment import augment
from search.data.fetch import fetch
from search.data.idx import read_idx
from search.data.registry import REGISTRY, DatasetInfo, data_root, dataset_info
from search.data.splits import (
    Split,
    channel_view,
    pixel_split,
    retrain_splits,
    search_splits,
    share_of,
    stratified_pick,
)

__all__ = [
    "REGISTRY", "DatasetInfo", "Split", "augment", "channel_view", "data_root", "dataset_info", "fetch", "pixel_split", "read_idx",
    "retrain_splits", "search_splits", "share_of", "stratified_pick",
]  # fmt: skip
