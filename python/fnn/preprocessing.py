"""What the command line puts in front of the network for a table of raw columns.

Numbers: missing values imputed with the column's median. Text (categorical) columns: missing
values become their own category, ``"(missing)"``, then one-hot encoded; a category first seen at
prediction time encodes as all zeros (``handle_unknown="ignore"``). The estimator then
standardises every resulting column (its ``input_scaling``). All of it is scikit-learn's own
transformers, saved in the model file by :mod:`fnn.transformer_file`.
"""

from __future__ import annotations

from typing import Optional, Sequence

#: The category a missing text value becomes.
MISSING_CATEGORY = "(missing)"


def tabular_preprocessor(numeric_columns: Optional[Sequence[str]] = None,
                         text_columns: Optional[Sequence[str]] = None):
    """An unfitted ColumnTransformer for a DataFrame with these numeric and text columns; without
    them, the columns are chosen by dtype when it is fitted (numbers and booleans; text, category
    and object columns), and saved by name."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    if numeric_columns is None and text_columns is None:
        numeric_columns, text_columns = number_columns, text_columns_of
    transformers = []
    if numeric_columns is not None and (callable(numeric_columns) or len(numeric_columns)):
        transformers.append(("numbers", SimpleImputer(strategy="median"),
                             numeric_columns if callable(numeric_columns) else list(numeric_columns)))
    if text_columns is not None and (callable(text_columns) or len(text_columns)):
        categories = Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ])
        transformers.append(("text", categories, text_columns if callable(text_columns) else list(text_columns)))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def number_columns(frame):
    """The columns of numbers (and booleans) of a DataFrame: a column selector."""
    from pandas.api.types import is_numeric_dtype

    return [name for name, dtype in frame.dtypes.items() if is_numeric_dtype(dtype)]


def text_columns_of(frame):
    """Every other column (text, categorical, object): a column selector."""
    from pandas.api.types import is_numeric_dtype

    return [name for name, dtype in frame.dtypes.items() if not is_numeric_dtype(dtype)]


def with_preprocessing(estimator, numeric_columns: Optional[Sequence[str]] = None,
                       text_columns: Optional[Sequence[str]] = None):
    """A Pipeline: the tabular preprocessor, then `estimator` (step names "preprocess", "model").

    For a pandas DataFrame of raw columns, as read from a CSV file::

        model = fnn.with_preprocessing(fnn.FNNClassifier()).fit(frame, labels)
        fnn.save(model, "model.npz")  # usable by fnn predict

    Numbers get their missing values imputed (median), text columns one-hot encoded (a missing
    value is its own category, an unknown one encodes as zeros); the estimator then standardises
    every column. Columns are chosen by dtype unless given.
    """
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", tabular_preprocessor(numeric_columns, text_columns)), ("model", estimator)])
