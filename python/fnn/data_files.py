"""Reading data for the command line: CSV files, NPZ archives and the built-in data sets.

Every problem with a file raises :class:`DataError` with one sentence naming the file and, where
it applies, the row and column, so the command line can print it and exit.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np


class DataError(ValueError):
    """Data that cannot be used as it is; the message says where and why."""


@dataclass
class Table:
    """Features and, when present, the target column, read from one source."""

    X: np.ndarray
    y: Optional[np.ndarray]
    source: str
    feature_names: List[str] = field(default_factory=list)
    target_name: Optional[str] = None


def _sklearn_loader(name):
    def load():
        import sklearn.datasets as datasets

        bunch = getattr(datasets, f"load_{name}")()
        names = getattr(bunch, "feature_names", None)  # a list for some sets, an array for others
        return bunch.data, bunch.target, [] if names is None else [str(n) for n in names]
    return load


def _digits():
    from .datasets import load_digits

    X, y = load_digits("float64")
    return X, y, [f"pixel_{i}" for i in range(X.shape[1])]


def _xor():
    from .datasets import make_xor

    X, y = make_xor()
    return X, y, ["x1", "x2"]


#: Data sets that need no file and no download: they ship with fnn or scikit-learn.
BUILT_IN = {
    "digits": _digits,  # scaled to [0, 1], as the main job uses it
    "iris": _sklearn_loader("iris"),
    "wine": _sklearn_loader("wine"),
    "breast-cancer": _sklearn_loader("breast_cancer"),
    "diabetes": _sklearn_loader("diabetes"),  # regression
    "xor": _xor,
}


def read_table(source: str, target: Optional[str] = None, *, need_target: bool = True,
               expected_features: Optional[int] = None) -> Table:
    """Read `source`: a built-in data set name, a ``.csv`` file or a ``.npz`` archive.

    CSV: comma-separated numbers, optionally with a header row of column names. The target is
    the column named (or numbered from 0) by `target`, else the last column; its cells may be
    class names. Without `need_target`, a file holding exactly the features is also accepted
    (for prediction): then `target` must not be given, and every column is a feature.
    `expected_features`, when given, is checked before any cell is parsed.
    NPZ: arrays ``X`` (n, d) and, for training, ``y`` (n,) or (n, k).
    """
    if source in BUILT_IN:
        X, y, names = BUILT_IN[source]()
        return Table(np.asarray(X, dtype=np.float64), np.asarray(y), source, names, "target")
    path = Path(source)
    if not path.exists():
        raise DataError(f"{source}: no such file, and not a built-in data set ({', '.join(BUILT_IN)})")
    if path.is_dir():
        raise DataError(f"{source} is a directory; give a .csv or .npz file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path, need_target)
    if suffix in (".csv", ".txt"):
        return _read_csv(path, target, need_target, expected_features)
    raise DataError(f"{source}: unknown file type {suffix!r}; use .csv or .npz")


def _read_npz(path: Path, need_target: bool) -> Table:
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            if "X" not in names:
                raise DataError(f"{path}: the archive has no array named X (it has {', '.join(sorted(names)) or 'none'})")
            X = archive["X"]
            y = archive["y"] if "y" in names else None
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz archive ({error})") from None
    if need_target and y is None:
        raise DataError(f"{path}: the archive has no array named y (the targets)")
    if X.ndim != 2:
        raise DataError(f"{path}: X must be 2-D (samples × features), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(f"{path}: X must hold numbers, got dtype {X.dtype}")
    if y is not None and (y.ndim not in (1, 2) or y.shape[0] != X.shape[0]):
        raise DataError(f"{path}: y has shape {y.shape}, but X has {X.shape[0]} rows")
    return Table(X.astype(np.float64, copy=False), y, str(path), [f"x{i}" for i in range(X.shape[1])], "y")


def _number(cell: str) -> Optional[float]:
    try:
        return float(cell)
    except ValueError:
        return None


def _read_csv(path: Path, target: Optional[str], need_target: bool, expected_features: Optional[int]) -> Table:
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = [row for row in csv.reader(stream) if any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (cannot decode it as UTF-8)") from None
    except csv.Error as error:
        raise DataError(f"{path}: malformed CSV ({error})") from None
    if not rows:
        raise DataError(f"{path}: the file is empty")
    rows = [[cell.strip() for cell in row] for row in rows]
    header = None
    if any(_number(cell) is None for cell in rows[0]):
        header, rows = rows[0], rows[1:]
    if not rows:
        raise DataError(f"{path}: the file has a header but no data rows")
    width = len(header) if header else len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            line = i + (2 if header else 1)
            raise DataError(f"{path}, line {line}: {len(row)} columns, but {'the header has' if header else 'line 1 has'} {width}")
    names = header or [str(i) for i in range(width)]

    column = None
    if target is not None:
        if target in names:
            column = names.index(target)
        elif target.lstrip("-").isdigit() and -width <= int(target) < width:
            column = int(target) % width
        else:
            raise DataError(f"{path}: no column {target!r} (columns: {', '.join(names)})")
    elif need_target:
        column = width - 1
    if column is not None and width < 2:
        raise DataError(f"{path}: only one column; there are no features besides the target")
    if expected_features is not None and width - (column is not None) != expected_features:
        hint = "; name the target column with --target to leave it out" if column is None and width == expected_features + 1 else ""
        raise DataError(f"{path}: {width - (column is not None)} feature columns, but the model expects "
                        f"{expected_features}{hint}")

    features = [c for c in range(width) if c != column]
    X = np.empty((len(rows), len(features)))
    for i, row in enumerate(rows):
        for j, c in enumerate(features):
            value = _number(row[c])
            if value is None:
                line = i + (2 if header else 1)
                raise DataError(f"{path}, line {line}, column {names[c]!r}: {row[c]!r} is not a number")
            X[i, j] = value
    if not np.isfinite(X).all():
        i, j = np.argwhere(~np.isfinite(X))[0]
        raise DataError(f"{path}, line {i + (2 if header else 1)}, column {names[features[j]]!r}: NaN or infinity")
    y = None
    if column is not None:
        cells = [row[column] for row in rows]
        if any(cell == "" for cell in cells):
            i = cells.index("")
            raise DataError(f"{path}, line {i + (2 if header else 1)}: the target column {names[column]!r} is empty")
        numbers = [_number(cell) for cell in cells]
        y = np.array(cells, dtype=object) if any(v is None for v in numbers) else np.array(numbers)
    return Table(X, y, str(path), [names[c] for c in features], None if column is None else names[column])


def task_of(y: np.ndarray) -> str:
    """"classification" for labels (strings, or whole numbers with few distinct values), else
    "regression"."""
    if y.dtype == object or y.dtype.kind in "USb":
        return "classification"
    if y.ndim == 2:
        whole = np.all(np.isin(y, (0, 1)))
        return "classification" if whole else "regression"
    whole = np.all(np.equal(np.mod(y, 1), 0))
    return "classification" if whole and np.unique(y).size <= max(20, int(0.05 * y.size)) else "regression"


def split_features(table: Table, n_features: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """(X, y) with X checked against a model's number of features."""
    if table.X.shape[1] != n_features:
        raise DataError(f"{table.source}: {table.X.shape[1]} feature columns, but the model expects {n_features}")
    return table.X, table.y
