"""Checks of user input at the public entry points. Each raises before any work is done, with a
message that names the problem, so a rejected call leaves the model unchanged."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._engine import core as _core


def _real_dtype(dtype: np.dtype) -> bool:
    """Numbers or booleans, but not complex numbers."""
    return (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)) and \
        not np.issubdtype(dtype, np.complexfloating)


def check_features(X, n_features: int, dtype, what: str = "X") -> np.ndarray:
    """X as a C-contiguous 2-D array of `dtype`: converted once here, never again in C++."""
    if type(X) is np.ndarray and X.dtype == dtype and X.ndim == 2 and X.flags.c_contiguous and X.shape[0] \
            and X.shape[1] == n_features:
        # Already what the engine reads: only the finite check (a served model's one-row call
        # spent longer in the general path's checks than in the network).
        return _checked_finite(X, X, what, dtype)
    if hasattr(X, "dtype") and hasattr(X, "tocsr"):
        raise TypeError(f"{what} is a sparse matrix; fnn needs a dense array (use X.toarray())")
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(X, "to_numpy") and all(getattr(t, "kind", "O") in "fiub" for t in dtypes):
        array = X.to_numpy(dtype=np.float64, na_value=np.nan)  # pandas' nullable Float64, Int64, boolean too
    else:
        array = np.asarray(X)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{what} must hold numbers, got an array of dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{what} must be real, got complex numbers")
    if array.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_samples, n_features), got {array.ndim}-D with shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{what} is empty: it has 0 samples")
    if array.shape[1] != n_features:
        raise ValueError(f"{what} has {array.shape[1]} features, but the network expects {n_features}")
    with np.errstate(over="ignore"):  # values beyond the dtype's range are reported below
        converted = np.ascontiguousarray(array, dtype=dtype)
    return _checked_finite(converted, array, what, dtype)


def _checked_finite(converted: np.ndarray, array: np.ndarray, what: str, dtype) -> np.ndarray:
    """`converted` (X in the network's dtype, from `array`) if every entry is finite, else the error."""
    if not all_finite(converted):
        if converted is not array and all_finite(array):
            row, column = first_non_finite(converted)
            raise ValueError(f"{what} has values beyond the range of {np.dtype(dtype).name} (first: {what}[{row}, "
                             f"{column}] = {float(array[row, column]):.3g}; largest magnitude "
                             f"{float(np.abs(array).max()):.3g}); scale the inputs or use dtype='float64'")
        row, column = first_non_finite(converted)
        raise ValueError(f"{what} contains NaN or infinity (first: {what}[{row}, {column}] = "
                         f"{converted[row, column]}); impute or drop those rows (fnn.with_preprocessing imputes "
                         "missing values)")
    return converted


def first_non_finite(array: np.ndarray) -> tuple:
    """(row, column) of the first entry of a 2-D array that is NaN or infinite (row-major order)."""
    for first in range(0, array.shape[0], 1 << 14):
        bad = np.argwhere(~np.isfinite(array[first:first + (1 << 14)]))
        if bad.size:
            return int(bad[0][0]) + first, int(bad[0][1])
    raise ValueError("every entry is finite")


_ENGINE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def all_finite(array: np.ndarray, rows: int = 1 << 14) -> bool:
    """Whether every entry is finite, checked a block of rows at a time: a whole-array
    ``np.isfinite`` would allocate a mask a quarter the size of a float32 X."""
    if array.dtype.kind not in "fc":
        return True
    if array.dtype in _ENGINE_DTYPES and array.flags.c_contiguous:
        return _core.all_finite(array)  # (the engine's loop: no mask, and a fraction of NumPy's call cost)
    return all(bool(np.isfinite(array[first:first + rows]).all()) for first in range(0, array.shape[0], rows))


def check_labels(y, n_samples: int, n_classes: int, what: str = "y") -> np.ndarray:
    """Integer class labels 0 … n_classes−1 as a 1-D integer array of length n_samples (y itself
    when it already holds integers: a large y is not widened to int64)."""
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{what} must be 1-D class labels, got shape {array.shape}")
    _check_length(array, n_samples, what)
    if array.dtype == bool:
        array = array.astype(np.int64)
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError(f"{what} contains NaN or infinity")
        if not np.all(array == np.round(array)):
            raise ValueError(f"{what} must hold integer class labels 0..{n_classes - 1}, got non-integer values")
        array = array.astype(np.int64)
    elif not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"{what} must hold integer class labels 0..{n_classes - 1}, got dtype {array.dtype} "
            "(map other labels to integers first)")
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= n_classes:
        bad = low if low < 0 else high
        raise ValueError(f"{what} has label {bad}, outside 0..{n_classes - 1} for a network with {n_classes} classes")
    return array


def _target_matrix(y, n_samples: int, n_outputs: int, what: str, holding: str = "") -> np.ndarray:
    """y as an (n_samples, n_outputs) array; a 1-D y is accepted for a single output."""
    array = np.asarray(y)
    if array.ndim == 1 and n_outputs == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != n_outputs:
        raise ValueError(f"{what} must have shape (n_samples, {n_outputs}){holding}, got {array.shape}")
    _check_length(array, n_samples, what)
    return array


def check_binary_targets(y, n_samples: int, n_outputs: int, dtype, what: str = "y") -> np.ndarray:
    """0/1 targets of shape (n_samples, n_outputs) for logistic output units."""
    array = _target_matrix(y, n_samples, n_outputs, what, " of 0/1 labels")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{what} must hold 0/1 labels, got dtype {array.dtype}")
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"{what} must hold only 0 and 1 for logistic outputs")
    return np.ascontiguousarray(array, dtype=dtype)


def check_real_targets(y, n_samples: int, n_outputs: int, dtype, what: str = "y") -> np.ndarray:
    """Real targets of shape (n_samples, n_outputs) for identity (regression) outputs."""
    array = _target_matrix(y, n_samples, n_outputs, what)
    if not _real_dtype(array.dtype):
        raise TypeError(f"{what} must hold real numbers, got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contains NaN or infinity")
    return array


def _check_length(array: np.ndarray, n_samples: int, what: str) -> None:
    if array.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} samples but {what} has {array.shape[0]}")


def check_positive_int(value, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return int(value)


def check_real(value, what: str, *, positive: bool = False, non_negative: bool = False,
               below: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{what} must be > 0, got {value}")
    if non_negative and value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")
    if below is not None and value >= below:
        raise ValueError(f"{what} must be < {below}, got {value}")
    return value


def check_sample_weight(sample_weight, n_samples: int, dtype, what: str = "sample_weight",
                        trained_in=None) -> np.ndarray | None:
    """Per-sample weights ≥ 0 as a 1-D array of `dtype`, rescaled to mean 1; None if all are equal.
    A ValueError names the first weight that is not a finite number ≥ 0, and weights whose range
    is too wide for the dtype training runs in (`trained_in`, else `dtype`): the smaller would be 0.

    Rescaling keeps the size of an SGD step independent of the weights' unit: only their ratios
    matter, as for a weighted mean.
    """
    if sample_weight is None:
        return None
    array = np.asarray(sample_weight)
    if array.ndim == 0:
        array = np.full(n_samples, array)
    if array.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {array.shape}")
    _check_length(array, n_samples, what)
    if not _real_dtype(array.dtype):
        raise TypeError(f"{what} must hold real numbers, got dtype {array.dtype}")
    with np.errstate(over="ignore"):
        array = array.astype(np.float64)
    if not np.isfinite(array).all():
        i = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"{what}[{i}] is {array[i]}: weights must be finite numbers >= 0")
    if (array < 0).any():
        i = int(np.flatnonzero(array < 0)[0])
        raise ValueError(f"{what} must be >= 0, got {what}[{i}] = {array[i]}")
    if array.max() <= 0:
        raise ValueError(f"{what} is zero for every sample: at least one sample needs a positive weight")
    if np.all(array == array[0]):
        return None  # equal weights are no weights: the unweighted path, bit for bit
    rescaled = mean_one(array, dtype)
    vanished = (mean_one(array, trained_in or dtype) == 0) & (array > 0)
    if vanished.any():
        largest, smallest = int(np.argmax(array)), int(np.flatnonzero(vanished)[0])
        raise ValueError(
            f"{what} spans too wide a range for {np.dtype(trained_in or dtype).name}: "
            f"{what}[{largest}] = {array[largest]:.3g} makes {what}[{smallest}] = {array[smallest]:.3g} "
            f"(and {int(vanished.sum()) - 1} more) vanish next to it "
            f"(a ratio above ~{1 / np.finfo(trained_in or dtype).tiny:.0e}); clip the weights, or leave those samples "
            "out")
    return rescaled


def mean_one(weights: np.ndarray, dtype) -> np.ndarray:
    """Non-negative weights (not all 0) rescaled to mean 1, in `dtype`.

    Divided by their maximum first, so that the sum can neither overflow (weights near 1e308) nor
    vanish (subnormal weights); weights below about 1e-38 of the largest become 0 in float32.
    """
    scaled = np.asarray(weights, dtype=np.float64) / float(np.max(weights))
    return np.ascontiguousarray(scaled * (scaled.size / scaled.sum()), dtype=dtype)
