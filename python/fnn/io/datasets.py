"""Small built-in data sets. Nothing is downloaded: digits ships inside scikit-learn."""

from __future__ import annotations

from typing import Tuple

import numpy as np


def load_digits(dtype="float32") -> Tuple[np.ndarray, np.ndarray]:
    """The 8×8 handwritten digits (1,797 samples, 64 features, 10 classes) from scikit-learn.

    Pixel intensities 0 … 16 are scaled to [0, 1]. Returns ``(X, y)`` with y of dtype int64.
    """
    from sklearn.datasets import load_digits as _load

    data = _load()
    return (data.data / 16.0).astype(dtype), data.target.astype(np.int64)


def make_xor(dtype="float64") -> Tuple[np.ndarray, np.ndarray]:
    """The four points of the XOR problem (exercise 4-2): inputs {0,1}², label x₁ XOR x₂."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    return X, np.array([0, 1, 1, 0], dtype=np.int64)
