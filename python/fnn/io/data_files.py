"""Reading data for the command line: CSV/TSV files, NPZ archives and the built-in data sets.

CSV files are parsed by pandas (its C parser); this module decides what the columns are:
numbers, dates (turned into days since 1970-01-01), text (class labels, or categorical features
that the model one-hot encodes) and missing values. Every problem with a file raises
:class:`DataError` with one sentence naming the file and, where it applies, the line and
column, so the command line can print it and exit.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional, Sequence

import numpy as np

from .._extras import import_optional


class DataError(ValueError):
    """Data that cannot be used as it is; the message says where and why."""


@dataclass
class CsvOptions:
    """How to read a CSV file; every field's default detects or keeps what the file has."""

    delimiter: Optional[str] = None  # None: the first of , ; tab that splits the first lines evenly
    decimal: Optional[str] = None  # None: "," for ;-separated files written with decimal commas, else "."
    na_values: Sequence[str] = ()  # marks of a missing value, besides pandas' (empty, NA, NaN, null, …)
    drop: Sequence[str] = ()  # columns to leave out
    features: Optional[Sequence[str]] = None  # the only columns to use as features
    categorical: Sequence[str] = ()  # columns read as text whatever they hold (codes: "02134" stays "02134")
    numeric: Sequence[str] = ()  # columns of numbers whose stray words are left for the model to read as missing


@dataclass
class Table:
    """Features and, when present, the target column, read from one source.

    `X` is a pandas DataFrame whose columns are the features: float64 columns (NaN where a
    value is missing) and object columns of text (categorical features)."""

    X: Any  # a pandas DataFrame (pandas is optional: no annotation that imports it)
    y: Optional[np.ndarray]
    source: str
    feature_names: List[str] = field(default_factory=list)
    target_name: Optional[str] = None
    has_header: bool = True
    text_columns: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def has_missing_values(self) -> bool:
        return bool(self.X.isna().to_numpy().any())


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

_SUFFIXES = (".csv", ".tsv", ".txt", ".tab")


def read_table(source: str, target: Optional[str] = None, options: Optional[CsvOptions] = None) -> Table:
    """Read training data from `source`: a built-in data set name, a CSV/TSV file or an NPZ archive.

    CSV: a header row of column names is optional; the target is the column named (or numbered
    from 0) by `target`, else the last one. Rows whose target is missing are left out (and said
    so in `notes`). NPZ: arrays ``X`` (n, d) and ``y`` (n,) or (n, k).
    """
    options = options or CsvOptions()
    if source in BUILT_IN:
        pd = import_optional("pandas", "reading data files")

        X, y, names = BUILT_IN[source]()
        frame = pd.DataFrame(np.asarray(X, dtype=np.float64), columns=names or None)
        return Table(frame, np.asarray(y), source, list(frame.columns), "target")
    path = _existing(source)
    if path.suffix.lower() == ".npz":
        return _read_npz(path, need_target=True)
    frame, has_header, notes = _read_frame(path, options)
    column = _target_column(path, frame, target)
    if frame.shape[1] < 2:
        raise DataError(f"{path}: only one column; there are no features besides the target (if the columns are "
                        "separated by another character, give it with --delimiter)")
    y_column = frame[column]
    missing = y_column.isna().to_numpy()
    if missing.all():
        raise DataError(f"{path}: the target column {column!r} has no values")
    if missing.any():
        lines = _lines(np.flatnonzero(missing), frame, has_header)
        notes.append(f"{int(missing.sum())} row(s) without a value in the target column {column!r} left out "
                     f"(line {lines})")
        frame = frame.loc[~missing]
        y_column = y_column.loc[~missing]
    features = _select_features(path, frame.drop(columns=[column]), options)
    return _table(features, y_column.to_numpy(), str(path), column, has_header, notes)


def read_features(source: str, feature_names: Optional[Sequence[str]], n_features: int, *,
                  target: Optional[str] = None, model_target: Optional[str] = None, need_target: bool = False,
                  options: Optional[CsvOptions] = None) -> Table:
    """Read data for a fitted model: its features (by name when the file has a header and the
    model knows its features' names, else by position) and, with `need_target`, the target.

    The target column is `target` if given, else the model's (`model_target`) if the file has
    it, else (with `need_target`) the last column. Without `need_target`, a column named like
    the model's target is dropped; other columns the model does not use are dropped with a note.
    """
    options = options or CsvOptions()
    if source in BUILT_IN or Path(source).suffix.lower() == ".npz":
        table = read_table(source, target) if need_target or source in BUILT_IN else \
            _read_npz(_existing(source), need_target=False)
        return _by_position(table, feature_names, n_features)
    path = _existing(source)
    frame, has_header, notes = _read_frame(path, options)
    column = None
    if target is not None:
        column = _target_column(path, frame, target)
    elif model_target is not None and has_header and model_target in frame.columns:
        column = model_target
    elif need_target and model_target is not None and has_header:
        raise DataError(f"{path}: no column {model_target!r}, the target the model was trained to predict: evaluating "
                        "needs it (or name the file's target column with --target); fnn predict needs no target")
    elif need_target:
        column = frame.columns[-1]
    y = None
    if column is not None:
        y_column = frame[column]
        if need_target and y_column.isna().any():
            line = _lines(np.flatnonzero(y_column.isna().to_numpy()), frame, has_header)
            raise DataError(f"{path}, line {line}: the target column {column!r} has no value")
        y = y_column.to_numpy()
        frame = frame.drop(columns=[column])
    frame = _select_features(path, frame, options)
    named = feature_names is not None and has_header and not all(n == str(i) for i, n in enumerate(feature_names))
    if named and feature_names is not None:  # (the second test for the type checker)
        present, wanted = set(frame.columns), set(feature_names)
        absent = [name for name in feature_names if name not in present]
        if absent:
            raise DataError(f"{path}: no column{'s' if len(absent) > 1 else ''} {_quoted(absent)}, which the model "
                            f"needs (it was trained on {_quoted(feature_names)})")
        unused = [name for name in frame.columns if name not in wanted]
        if unused:
            notes.append(f"column(s) {_quoted(unused)} are not features of the model: left out")
        frame = frame[list(feature_names)]
    table = _table(frame, y, str(path), column, has_header, notes)
    return table if named else _by_position(table, feature_names, n_features, target_given=column is not None)


def _by_position(table: Table, feature_names, n_features: int, target_given: bool = True) -> Table:
    """`table` with its columns taken as the model's features in order (files without a header)."""
    width = table.X.shape[1]
    if width != n_features:
        hint = "; name the target column with --target to leave it out" if width == n_features + 1 and \
            not target_given else ""
        raise DataError(f"{table.source}: {width} feature columns, but the model expects {n_features}{hint}")
    if feature_names is not None:
        table.X.columns = list(feature_names)
        table.feature_names = list(feature_names)
    return table


def _table(features, y, source: str, target: Optional[str], has_header: bool, notes: List[str]) -> Table:
    text = [name for name, dtype in features.dtypes.items() if str(dtype) == "object"]
    return Table(features, y, source, [str(c) for c in features.columns], target, has_header, text, notes)


def _existing(source: str) -> Path:
    path = Path(source)
    if not path.exists():
        raise DataError(f"{source}: no such file, and not a built-in data set ({', '.join(BUILT_IN)})")
    if path.is_dir():
        raise DataError(f"{source} is a directory; give a .csv, .tsv or .npz file")
    suffix = path.suffix.lower()
    if suffix != ".npz" and suffix not in _SUFFIXES:
        raise DataError(f"{source}: unknown file type {suffix!r}; use .csv, .tsv or .npz")
    return path


def _target_column(path: Path, frame, target: Optional[str]) -> str:
    names = [str(c) for c in frame.columns]
    if target is None:
        return names[-1]
    if target in names:
        return target
    if target.lstrip("-").isdigit() and -len(names) <= int(target) < len(names):
        return names[int(target)]
    raise DataError(f"{path}: no column {target!r}{_did_you_mean(target, names)} (columns: {', '.join(names)})")


def _select_features(path: Path, frame, options: CsvOptions):
    """The feature columns after --drop and --features, each name checked."""
    names = list(frame.columns)
    known = set(names)
    for flag, chosen in (("--drop", options.drop), ("--features", options.features or ())):
        absent = [name for name in chosen if name not in known]
        if absent:
            raise DataError(f"{path}: {flag} names no column {_quoted(absent)}{_did_you_mean(absent[0], names)} "
                            f"(columns: {', '.join(names)})")
    if options.features is not None:
        frame = frame[list(options.features)]
    dropped = [name for name in options.drop if name in frame.columns]
    frame = frame.drop(columns=dropped)
    if frame.shape[1] == 0:
        raise DataError(f"{path}: no feature columns are left")
    return frame


def _did_you_mean(name: str, names: Sequence[str]) -> str:
    """" (did you mean 'x'?)" for the closest of `names` to a mistyped `name`, else ""."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(n) for n in names], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _quoted(names: Sequence[str]) -> str:
    shown = ", ".join(repr(str(n)) for n in list(names)[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")


# ---------------------------------------------------------------------------------- CSV

#: Lines looked at to detect the delimiter, the decimal mark and a header.
_SAMPLE_LINES = 50
#: Cells of a text column looked at before deciding to parse all of them as numbers or dates.
_SAMPLE_CELLS = 1000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
#: First-column names that an index written with the data gets (pandas names an empty header cell "Unnamed: 0").
_INDEX_NAMES = ("", "index", "id", "idx", "row", "#")
_DECIMAL_COMMA = re.compile(r"^[-+]?\d*,\d+$")


def _sample(path: Path) -> List[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            lines = []
            for line in stream:
                if line.strip():
                    lines.append(line)
                if len(lines) == _SAMPLE_LINES:
                    break
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (cannot decode it as UTF-8)") from None
    if not lines:
        raise DataError(f"{path}: the file is empty")
    return lines


def _rows(lines: List[str], delimiter: str) -> List[List[str]]:
    try:
        return [[cell.strip() for cell in row] for row in csv.reader(lines, delimiter=delimiter)]
    except csv.Error:
        return []


def _detect_delimiter(path: Path, lines: List[str]) -> str:
    """Tab for .tsv files; else the one of , ; tab that splits every sampled line into the same
    number (> 1) of cells, the most cells winning."""
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    best, best_width = ",", 1
    for delimiter in (",", ";", "\t"):
        widths = {len(row) for row in _rows(lines, delimiter)}
        if len(widths) == 1 and (width := widths.pop()) > best_width:
            best, best_width = delimiter, width
    return best


def _is_number(cell: str, decimal: str) -> bool:
    try:
        float(cell.replace(decimal, ".") if decimal != "." else cell)
        return True
    except ValueError:
        return False


def _read_frame(path: Path, options: CsvOptions):
    """(DataFrame of every column, whether the file has a header, notes) of a CSV file; text
    columns of numbers or dates converted, text cells stripped, blank lines left out."""
    pd = import_optional("pandas", "reading data files")

    lines = _sample(path)
    delimiter = options.delimiter or _detect_delimiter(path, lines)
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    rows = _rows(lines, delimiter)
    decimal = options.decimal
    if decimal is None:
        cells = [cell for row in rows[1:] for cell in row]
        decimal = "," if delimiter != "," and any(_DECIMAL_COMMA.match(cell) for cell in cells) else "."
    has_header = bool(rows) and not all(_is_number(cell, decimal) for cell in rows[0])
    as_text = {name if has_header else int(name): str for name in options.categorical
               if has_header or name.isdigit()}
    frame = _read_wide_numbers(path, lines, rows, delimiter, decimal, has_header, options)
    if frame is not None:
        return frame, has_header, []
    try:
        frame = pd.read_csv(path, sep=delimiter, decimal=decimal, header=0 if has_header else None,
                            na_values=list(options.na_values) or None, keep_default_na=True, skipinitialspace=True,
                            skip_blank_lines=False, encoding="utf-8-sig", low_memory=False, dtype=as_text or None)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (cannot decode it as UTF-8)") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as error:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
        if match:
            expected, line, saw = match.groups()
            raise DataError(f"{path}, line {line}: {saw} columns, but "
                            f"{'the header has' if has_header else 'line 1 has'} "
                            f"{expected}") from None
        raise DataError(f"{path}: malformed CSV ({str(error).strip()})") from None
    if has_header:
        frame.columns = [str(c).strip() for c in frame.columns]
    else:
        frame.columns = [str(i) for i in range(frame.shape[1])]
    frame.index = np.arange(frame.shape[0])  # row i is line i + 1 (+1 more after a header)
    if not options.categorical and all(dtype.kind in "biuf" for dtype in frame.dtypes):
        # One block of numbers: pandas reads a column per block, and every operation on a frame
        # of 100,000 blocks (wide files) costs a pass over them.
        frame = pd.DataFrame(frame.to_numpy(dtype=np.float64), columns=frame.columns, index=frame.index)
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():  # blank lines (without any, no copy of the frame)
        frame = frame.loc[~blank]
    if frame.shape[0] == 0:
        raise DataError(f"{path}: the file has a header but no data rows")
    notes: List[str] = []
    # Columns of numbers are converted together, the others one by one, and the frame is put
    # together once: setting columns one at a time costs time in the number of columns each (a
    # file of 100,000 columns took minutes).
    categorical, numeric = set(options.categorical), set(options.numeric)
    whole_numbers, changed = [], {}
    for name, dtype in frame.dtypes.items():
        if name in categorical:
            changed[name] = _stripped(frame[name])
        elif dtype.kind in "biu":
            whole_numbers.append(name)
        elif dtype.kind != "f":
            changed[name] = _typed_column(path, name, frame[name], frame, has_header, notes, decimal,
                                          declared_numeric=name in numeric)
    if whole_numbers or changed:
        parts = [frame.drop(columns=whole_numbers + list(changed))]
        if whole_numbers:
            parts.append(frame[whole_numbers].astype(np.float64))
        if changed:
            parts.append(pd.DataFrame(changed, index=frame.index))
        frame = pd.concat(parts, axis=1)[list(frame.columns)].copy()  # (the copy consolidates the blocks)
    _warn_about_index(frame, notes)
    return frame, has_header, notes


#: Columns from which a file of nothing but numbers is read by NumPy's parser instead of pandas':
#: pandas makes an array and a block per column, ~40 µs each (10 s for 260,000 columns).
WIDE_COLUMNS = 1000


def _read_wide_numbers(path: Path, lines: List[str], rows: List[List[str]], delimiter: str, decimal: str,
                       has_header: bool, options: CsvOptions):
    """A wide file whose every cell is a finite number, as one float64 block; None for any other
    file (or anything unusual: blank cells, quoted names, repeated names, options), which pandas
    reads with its messages."""
    pd = import_optional("pandas", "reading data files")

    width = len(rows[0]) if rows else 0
    data = rows[1:] if has_header else rows
    if (width < WIDE_COLUMNS or decimal != "." or options.categorical or options.na_values or not data
            or any(len(row) != width for row in rows) or '"' in lines[0]
            or not all(_is_number(cell, ".") for row in data[:3] for cell in row)):  # (loadtxt checks the rest)
        return None
    names = [cell.strip() for cell in rows[0]] if has_header else [str(j) for j in range(width)]
    if has_header and (len(set(names)) != width or "" in names):
        return None
    try:
        values = np.loadtxt(path, delimiter=delimiter, skiprows=1 if has_header else 0, dtype=np.float64, ndmin=2,
                            comments=None,  # ("3#x" is not 3 followed by a comment: pandas says what it is)
                            encoding="utf-8-sig")
    except ValueError:  # a cell further down that is not a number, a short row: pandas says which
        return None
    if values.shape[1] != width or not np.isfinite(values).all():
        return None  # (missing values and blank lines: pandas' reading keeps the line numbers)
    return pd.DataFrame(values, columns=pd.Index(names, dtype=object), index=np.arange(values.shape[0]))


def _stripped(column):
    """A column as text, each cell stripped, empty cells missing (NaN)."""
    text = column.astype(object).where(column.notna(), np.nan)
    present = text.dropna().astype(str).str.strip()
    text.loc[present.index] = present.where(present != "", np.nan)
    return text


def _typed_column(path: Path, name: str, column, frame, has_header: bool, notes: List[str], decimal: str = ".",
                  declared_numeric: bool = False):
    """A column pandas read as text: numbers written oddly, dates, or text (stripped, as object).
    A column declared numeric keeps its stray words as text, for the model to read as missing."""
    pd = import_optional("pandas", "reading data files")

    text = _stripped(column)
    present = text.dropna()
    if declared_numeric:
        numbers = pd.to_numeric(present.str.replace(decimal, ".", regex=False) if decimal != "." else present,
                                errors="coerce")
        text.loc[numbers.index[numbers.notna()]] = numbers[numbers.notna()].astype(np.float64)
        return text
    if present.empty:
        return text.astype(np.float64)
    head = present.iloc[:_SAMPLE_CELLS]
    if len(present) > _SAMPLE_CELLS and pd.to_numeric(head, errors="coerce").notna().mean() < 0.25:
        parsed = pd.Series(False, index=present.index)  # text: parsing every cell as a number is wasted
    else:
        parsed = pd.to_numeric(present, errors="coerce").notna()
    if parsed.all():
        return pd.to_numeric(text, errors="coerce").astype(np.float64)
    if parsed.mean() >= 0.5:  # a column of numbers with a few stray cells: a mistake, or a missing-value mark
        bad = present.index[~parsed.to_numpy()][0]
        line = _lines([frame.index.get_loc(bad)], frame, has_header)
        raise DataError(f"{path}, line {line}, column {name!r}: {present[bad]!r} is not a number "
                        "(most of the column is "
                        f"numbers; if {present[bad]!r} marks a missing value, add --na-values {present[bad]!r}; "
                        f"to read such words as missing values, --numeric {name})")
    if all(map(_is_date, head)) and present.map(_is_date).all():
        dates = pd.to_datetime(present, format="ISO8601")
        days = (dates - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
        result = pd.Series(np.nan, index=text.index)
        result.loc[present.index] = days.to_numpy(dtype=np.float64)
        notes.append(f"column {name!r} holds dates: used as days since 1970-01-01")
        return result
    return text


def _is_date(cell: str) -> bool:
    return bool(_DATE.match(cell))


def _warn_about_index(frame, notes: List[str]) -> None:
    """A first column counting the rows (as pandas' to_csv writes it) is rarely meant as a feature."""
    if frame.shape[1] < 2:
        return
    name = frame.columns[0]
    if not (name.startswith("Unnamed: ") or name.lower() in _INDEX_NAMES):
        return
    values = frame[name].to_numpy()
    if values.dtype != np.float64 or frame.shape[0] < 3:
        return
    for start in (0, 1):
        if np.array_equal(values, np.arange(start, start + len(values))):
            notes.append(f"warning: column {name!r} counts the rows ({start}, {start + 1}, {start + 2}, …): it looks "
                         f"like an index written with the data, not a feature; leave it out with --drop {name!r}")
            return


def _lines(rows, frame, has_header: bool) -> str:
    """File line numbers of positional `rows` of `frame` (the first few)."""
    rows = list(rows)
    numbers = [int(frame.index[r]) + (2 if has_header else 1) for r in rows[:5]]
    return ", ".join(map(str, numbers)) + (", …" if len(rows) > 5 else "")


# ---------------------------------------------------------------------------------- NPZ

def _read_npz(path: Path, need_target: bool) -> Table:
    import zipfile

    pd = import_optional("pandas", "reading data files")

    try:
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            if "X" not in names:
                raise DataError(f"{path}: the archive has no array named X (it has "
                                f"{', '.join(sorted(names)) or 'none'})")
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
    frame = pd.DataFrame(X.astype(np.float64, copy=False), columns=[f"x{i}" for i in range(X.shape[1])])
    return Table(frame, y, str(path), list(frame.columns), "y", has_header=False)


# ---------------------------------------------------------------------------------- targets

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

