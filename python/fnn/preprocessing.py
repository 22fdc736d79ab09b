"""What the command line puts in front of the network for a table of raw columns.

Numbers: missing values imputed with the column's median. Text (categorical) columns: missing
values become their own category, ``"(missing)"``, then one-hot encoded; a category first seen at
prediction time encodes as all zeros (``handle_unknown="ignore"``). The estimator then
standardises every resulting column (its ``input_scaling``). All of it is scikit-learn's own
transformers, saved in the model file by :mod:`fnn.transformer_file`.
"""

from __future__ import annotations

from typing import Sequence

#: The category a missing text value becomes.
MISSING_CATEGORY = "(missing)"


def tabular_preprocessor(numeric_columns: Sequence[str], text_columns: Sequence[str]):
    """An unfitted ColumnTransformer for a DataFrame with these numeric and text columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    transformers = []
    if numeric_columns:
        transformers.append(("numbers", SimpleImputer(strategy="median"), list(numeric_columns)))
    if text_columns:
        categories = Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ])
        transformers.append(("text", categories, list(text_columns)))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def with_preprocessing(estimator, numeric_columns: Sequence[str], text_columns: Sequence[str]):
    """A Pipeline: the tabular preprocessor, then `estimator` (step names "preprocess", "model")."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", tabular_preprocessor(numeric_columns, text_columns)), ("model", estimator)])
