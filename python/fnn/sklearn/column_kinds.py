"""What a table's columns are: numbers or categories, as declared or as their dtype says.

A column of codes (ZIPs, product codes, cylinders as 4/6/8) looks like numbers but is a category;
a column of numbers with one stray word (``rotary``) reads as text. ``fnn.with_preprocessing``
and ``fnn train`` take ``categorical=`` / ``numeric=`` (``--categorical`` / ``--numeric``) for
these, and the two transformers here carry the decision into the model file:

- :class:`AsNumbers` turns a column into float64, anything that is not a number into a missing
  value (then imputed), with one :class:`ColumnWarning` naming the column and the values;
- :class:`Categories` one-hot encodes the values as text (94110 and 94110.0 are one category), a
  missing value as a category of its own, and a value first met after fitting as zeros, with one
  :class:`ColumnWarning` naming the column and the values instead of failing the whole file.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import List

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import validate_data

from .._extras import import_optional

#: Values named in a warning, at most.
SHOWN = 5


class ColumnWarning(UserWarning):
    """A value of a table that was read differently from what it says: a non-number in a numeric
    column (read as missing), a category not seen in training (encoded as zeros)."""


def _names(transformer, X) -> List[str]:
    names = getattr(X, "columns", None)
    if names is None:
        names = getattr(transformer, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [str(j) for j in range(np.shape(X)[1])]


def _columns(X) -> List[np.ndarray]:
    """The columns of a DataFrame or 2-D array, each as a 1-D object or numeric array."""
    return [_column(X, j) for j in range(np.shape(X)[1])]


def _column(X, j: int) -> np.ndarray:
    """Column j of a DataFrame (as objects, missing values NaN) or of a 2-D array."""
    if hasattr(X, "iloc"):
        return X.iloc[:, j].to_numpy(dtype=object, na_value=np.nan)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D table, got an array of shape {X.shape}")
    return X[:, j]


def _number_columns(X) -> np.ndarray:
    """A mask of the columns holding numbers or booleans (pandas' nullable kinds too)."""
    if hasattr(X, "dtypes"):
        return np.array([getattr(dtype, "kind", "O") in "fiub" for dtype in X.dtypes], dtype=bool)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D table, got an array of shape {X.shape}")
    return np.full(X.shape[1], X.dtype.kind in "fiub")


def _quoted(values) -> str:
    shown = ", ".join(repr(v) for v in values[:SHOWN])
    return shown + (f" and {len(values) - SHOWN} more" if len(values) > SHOWN else "")


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pandas' NA and NaT
    except (TypeError, ValueError):
        return False


class AsNumbers(TransformerMixin, BaseEstimator):
    """Columns as float64 numbers; text that is not a number becomes missing (NaN), with one
    ColumnWarning per call naming each such column and its values."""

    def fit(self, X, y=None):
        validate_data(self, X, reset=True, skip_check_array=True)
        return self

    def transform(self, X):
        validate_data(self, X, reset=False, skip_check_array=True)
        out = np.empty((np.shape(X)[0], np.shape(X)[1]), dtype=np.float64)
        # Columns of numbers in one block (a wide table has thousands), the others one by one.
        numeric = _number_columns(X)
        if numeric.all() and not hasattr(X, "iloc"):
            out[:] = X
        elif numeric.any():
            out[:, numeric] = (X.iloc[:, np.flatnonzero(numeric)].to_numpy(dtype=np.float64, na_value=np.nan)
                               if hasattr(X, "iloc") else np.asarray(X)[:, numeric].astype(np.float64))
        problems = []
        names = _names(self, X)
        for j in np.flatnonzero(~numeric):
            pd = import_optional("pandas", "reading numbers written as text")
            name, column = names[j], _column(X, int(j))
            converted = pd.to_numeric(pd.Series(column, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
            stray = [v for v in pd.unique(pd.Series(column[np.isnan(converted)], dtype=object)) if not _missing(v)]
            if stray:
                problems.append(f"{name!r}: {_quoted(stray)}")
            out[:, j] = converted
        if problems:
            warnings.warn("values that are not numbers, read as missing (then imputed) in the numeric column(s) "
                          + "; ".join(problems), ColumnWarning, stacklevel=2)
        return out

    def get_feature_names_out(self, input_features=None):
        if input_features is not None:
            return np.asarray(input_features, dtype=object)
        names = getattr(self, "feature_names_in_", None)
        return np.asarray(names if names is not None else [f"x{j}" for j in range(self.n_features_in_)],
                          dtype=object)


def as_text(column: np.ndarray) -> np.ndarray:
    """Values as category names: text unchanged, whole numbers without a decimal point (94110.0
    is "94110"), other numbers as Python writes them, missing values NaN."""
    out = np.empty(column.shape[0], dtype=object)
    for i, value in enumerate(column.tolist()):
        if isinstance(value, str):
            out[i] = value
        elif _missing(value):
            out[i] = np.nan
        elif isinstance(value, (bool, np.bool_)):
            out[i] = str(bool(value))
        elif isinstance(value, numbers.Integral):
            out[i] = str(int(value))
        elif isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
            out[i] = str(int(float(value)))
        else:
            out[i] = str(value)
    return out


class Categories(OneHotEncoder):
    """scikit-learn's OneHotEncoder on the values as text (:func:`as_text`), a missing value a
    category of its own, and a category not seen in fitting encoded as zeros with one
    ColumnWarning naming the columns and values (``handle_unknown="ignore"``, dense output)."""

    def __init__(self, *, categories="auto", drop=None, sparse_output=False, dtype=np.float64,
                 handle_unknown="ignore", min_frequency=None, max_categories=None,
                 feature_name_combiner="concat"):
        super().__init__(categories=categories, drop=drop, sparse_output=sparse_output, dtype=dtype,
                         handle_unknown=handle_unknown, min_frequency=min_frequency,
                         max_categories=max_categories, feature_name_combiner=feature_name_combiner)

    def _as_text(self, X):
        names = _names(self, X) if hasattr(X, "columns") else None
        texts = [as_text(column) for column in _columns(X)]
        if names is None:
            return np.column_stack(texts) if texts else np.empty((np.shape(X)[0], 0), dtype=object)
        pd = import_optional("pandas", "a DataFrame's text columns")  # (a DataFrame came: pandas is there)
        return pd.DataFrame(dict(zip(names, texts)), index=X.index)

    def fit(self, X, y=None):
        return super().fit(self._as_text(X), y)

    def transform(self, X):
        X = self._as_text(X)
        unknown = []
        for name, column, known in zip(_names(self, X), _columns(X), self.categories_):
            known_values = {v for v in known.tolist() if not _missing(v)}
            new = [v for v in dict.fromkeys(column.tolist()) if not _missing(v) and v not in known_values]
            if new:
                unknown.append(f"{name!r}: {_quoted(new)}")
        if unknown:
            warnings.warn("categories not seen in training, encoded as zeros, in column(s) " + "; ".join(unknown),
                          ColumnWarning, stacklevel=2)
        return super().transform(X)

    def fit_transform(self, X, y=None):
        return self.fit(X, y).transform(X)
