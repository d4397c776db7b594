"""scikit-learn's digits (1,797 real 8x8 scans of handwritten digits, UCI, shipped inside the
package, so this works offline) as a tinynas .npz dataset: a stratified test split of 20%
with seed 0, pixels scaled from 0..16 to uint8 0..255.

    pip install scikit-learn
    python studies/data/make_digits.py --out studies/data/digits.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

TEST_SHARE = 0.2
SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("this command needs scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)  # (1797, 8, 8), 0..16 -> 0..255
    labels = digits.target.astype(np.int64)
    rng = np.random.default_rng(SEED)
    test = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[: round(TEST_SHARE * (labels == c).sum())] for c in range(10)]
    )
    train = np.setdiff1d(np.arange(len(labels)), test)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        x_train=images[train],
        y_train=labels[train],
        x_test=images[np.sort(test)],
        y_test=labels[np.sort(test)],
    )
    print(f"{args.out}: {len(train):,} training and {len(test):,} test images of 8x8, 10 classes")


if __name__ == "__main__":
    main()
