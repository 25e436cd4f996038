"""Datasets that ship with the dependencies (no network, no cache): scikit-learn's digits."""

from __future__ import annotations

import numpy as np

__all__ = ["DIGITS_SPLIT_SEED", "DIGITS_TEST_SIZE", "load_digits_arrays"]

#: Fixed seed and size of the package's train/test split of the 1,797 digits.
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_SIZE = 360


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's 8x8 digits as ``(X, y)``, training rows first.

    ``X`` is ``(1797, 64)`` uint8 with the original 0..16 pixel counts (not rescaled) and ``y``
    int64 labels. The first 1,437 rows are the training set and the last 360 the test set of
    a stratified split with a fixed seed; inside each part rows keep their original relative
    order so the split is easy to reproduce from ``sklearn.datasets.load_digits``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    idx = np.arange(len(y))
    train_idx, test_idx = train_test_split(
        idx, test_size=DIGITS_TEST_SIZE, stratify=y, random_state=DIGITS_SPLIT_SEED
    )
    order = np.concatenate([np.sort(train_idx), np.sort(test_idx)])
    # The pixels are small integer counts stored as float64; uint8 is exact and 8x smaller.
    X_u8 = X[order].astype(np.uint8)
    if not np.array_equal(X_u8, X[order]):
        raise RuntimeError("sklearn digits pixels are not integers in 0..255")
    return np.ascontiguousarray(X_u8), y[order].astype(np.int64)
