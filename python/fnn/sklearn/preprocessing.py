"""What the command line puts in front of the network for a table of raw columns.

Numbers (:class:`fnn.sklearn.column_kinds.AsNumbers`): anything that is not a number read as missing,
then missing values imputed with the column's median. Categories (text and categorical
columns, and numeric codes declared with ``categorical=``; :class:`fnn.sklearn.column_kinds.Categories`):
one-hot encoded as text, a missing value a category of its own, a category first seen at
prediction time encoded as all zeros with a :class:`~fnn.sklearn.column_kinds.ColumnWarning` naming the
column and the values. The estimator then scales the numbers (its ``input_scaling``; 0/1
columns such as the one-hot ones stay as they are). All of it is saved in the model file by
:mod:`fnn.sklearn.transformer_file`.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Union

import numpy as np

from .._extras import import_optional

Columns = Optional[Sequence[Union[str, int]]]

def tabular_preprocessor(numeric_columns: Columns = None, text_columns: Columns = None, *,
                         categorical: Columns = None, numeric: Columns = None):
    """An unfitted ColumnTransformer for a DataFrame. With `numeric_columns` and `text_columns`,
    exactly those; else the columns are chosen by dtype when it is fitted (numbers and booleans;
    text, category and object columns), except those declared `categorical` or `numeric`
    (names, or 0-based positions), and saved by name."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    from .column_kinds import AsNumbers, Categories

    if numeric_columns is None and text_columns is None:
        numeric_columns, text_columns = _selectors(categorical, numeric)
    elif categorical is not None or numeric is not None:
        raise ValueError("give either numeric_columns and text_columns, or categorical= / numeric=, not both")
    transformers: List[tuple] = []
    if numeric_columns is not None and (callable(numeric_columns) or len(numeric_columns)):
        numbers = Pipeline([("as_numbers", AsNumbers()), ("impute", SimpleImputer(strategy="median"))])
        transformers.append(("numbers", numbers, numeric_columns if callable(numeric_columns)
                             else ColumnsNamed(numeric_columns)))
    if text_columns is not None and (callable(text_columns) or len(text_columns)):
        transformers.append(("text", Categories(), text_columns if callable(text_columns)
                             else ColumnsNamed(text_columns)))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


class ColumnsNamed:
    """Columns by name, for a ColumnTransformer: the positions of `names` in the table, found in
    one pass. (Given a list of names, scikit-learn looks each up in a list of all of them, which
    takes minutes on a table of 100,000 columns; positions and masks it takes in linear time.)"""

    def __init__(self, names: Sequence[Union[str, int]]):
        self.names = list(names)

    def __call__(self, frame) -> List[int]:
        if all(isinstance(n, int) and not isinstance(n, bool) for n in self.names):
            return [int(n) for n in self.names]  # positions, as scikit-learn takes integers, in a DataFrame too
        if not hasattr(frame, "columns"):
            raise TypeError("columns given by name need a pandas DataFrame")
        positions = {name: j for j, name in enumerate(frame.columns)}
        missing = [name for name in self.names if name not in positions]
        if missing:
            raise ValueError(f"the table has no column(s) {missing[:5]}{' …' if len(missing) > 5 else ''}")
        return [positions[name] for name in self.names]

    def __repr__(self) -> str:
        shown = ", ".join(map(repr, self.names[:5]))
        return f"ColumnsNamed([{shown}{', …' if len(self.names) > 5 else ''}])"


def _is_number_dtype(dtype) -> bool:
    types = import_optional("pandas.api.types", "fnn.with_preprocessing")
    return types.is_numeric_dtype(dtype)  # booleans too: 0 and 1


def _resolve(frame, declared: Columns, what: str) -> List[str]:
    """Declared columns (names or positions) as the frame's names; a name or position it lacks is
    a ValueError naming it."""
    names = list(frame.columns)
    known = set(names)
    resolved = []
    for column in declared or ():
        if isinstance(column, str) and column in known:
            resolved.append(column)
        elif isinstance(column, int) and not isinstance(column, bool) and -len(names) <= column < len(names):
            resolved.append(names[column])
        else:
            raise ValueError(f"{what}={list(declared or ())!r}: the table has no column {column!r} "
                             f"(columns: {', '.join(map(str, names))})")
    return resolved


def _selectors(categorical: Columns, numeric: Columns):
    """Column selectors: numbers by dtype or declared numeric, the rest categories."""
    if categorical is not None and isinstance(categorical, (str, int)):
        categorical = [categorical]
    if numeric is not None and isinstance(numeric, (str, int)):
        numeric = [numeric]

    # Masks, which scikit-learn resolves in linear time (see ColumnsNamed).
    def numbers(frame) -> np.ndarray:
        if not hasattr(frame, "columns"):
            raise TypeError("fnn.with_preprocessing takes a pandas DataFrame (columns chosen by name and dtype)")
        as_categories = set(_resolve(frame, categorical, "categorical"))
        as_numbers = set(_resolve(frame, numeric, "numeric"))
        both = as_categories & as_numbers
        if both:
            raise ValueError(f"column(s) {sorted(map(str, both))} declared both categorical and numeric")
        return np.array([name in as_numbers or (name not in as_categories and _is_number_dtype(dtype))
                         for name, dtype in frame.dtypes.items()], dtype=bool)

    def texts(frame) -> np.ndarray:
        return ~numbers(frame)

    return numbers, texts


def with_preprocessing(estimator, numeric_columns: Columns = None, text_columns: Columns = None, *,
                       categorical: Columns = None, numeric: Columns = None):
    """A Pipeline: the tabular preprocessor, then `estimator` (step names "preprocess", "model").

    For a pandas DataFrame of raw columns, as read from a CSV file::

        model = fnn.with_preprocessing(fnn.FNNClassifier()).fit(frame, labels)
        fnn.save(model, "model.npz")  # usable by fnn predict

    Numbers get their missing values imputed (median); text and categorical columns are
    one-hot encoded (a missing value is its own category; a category first met by ``predict``
    encodes as zeros, with a ColumnWarning naming the column and the values); the estimator then
    scales the numbers. Columns are chosen by dtype, except those declared:

    categorical : list of names or 0-based positions, optional
        Columns of codes that look like numbers (ZIPs, product codes, a cylinder count): one-hot
        encoded, 94110 and 94110.0 being one category.
    numeric : list of names or 0-based positions, optional
        Columns of numbers read as text because of a stray word (``"rotary"`` among cylinder
        counts): such values become missing, then the median, with a ColumnWarning naming them.

    `numeric_columns` and `text_columns` instead list every column of each kind (the command line's
    form).
    """
    from sklearn.pipeline import Pipeline

    preprocess = tabular_preprocessor(numeric_columns, text_columns, categorical=categorical, numeric=numeric)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])

