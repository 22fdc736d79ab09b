"""One rank's part of a data file, read without the rest: the rows of a ``.npy`` file through a
memory map, or the byte range of a CSV file that holds its lines. Also the statistics that ranks
combine (means and variances pooled over all rows).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from ..io.data_files import DataError, _detect_delimiter, _is_number, _rows, _sample
from .._extras import import_optional


def read_shard(path, rank: int, size: int, target=None) -> Tuple[np.ndarray, np.ndarray, List[str], str]:
    """(X, y, feature names, target name) of rank `rank` of `size`: a ``.npy`` matrix's rows
    [n·rank/size, n·(rank+1)/size) or a CSV file's lines that start in the same share of its bytes.
    The target is the column named or numbered by `target` (default the last). The columns must be
    numbers without missing values (a DataError says otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (data-parallel training reads a .npy or numeric CSV file; the "
                        "built-in data sets are for one process)")
    if path.suffix.lower() == ".npy":
        return _npy_shard(path, rank, size, target)
    return _csv_shard(path, rank, size, target)


def _npy_shard(path: Path, rank: int, size: int, target):
    whole = np.load(path, mmap_mode="r")
    if whole.ndim != 2 or whole.shape[1] < 2 or whole.dtype.kind not in "biuf":
        raise DataError(f"{path}: expected a 2-D array of numbers with the target as one column, got "
                        f"{whole.dtype} of shape {whole.shape}")
    names = [str(i) for i in range(whole.shape[1])]
    column = _target_index(path, names, target)
    start, stop = whole.shape[0] * rank // size, whole.shape[0] * (rank + 1) // size
    part = np.asarray(whole[start:stop], dtype=np.float64)  # only these rows are read
    return _split(path, part, names, column)


def _csv_shard(path: Path, rank: int, size: int, target):
    pd = import_optional("pandas", "reading CSV shards")

    lines = _sample(path)
    if not lines:
        raise DataError(f"{path}: the file is empty")
    delimiter = _detect_delimiter(path, lines)
    rows = _rows(lines, delimiter)
    has_header = not all(_is_number(cell, ".") for cell in rows[0])
    names = rows[0] if has_header else [str(i) for i in range(len(rows[0]))]
    column = _target_index(path, names, target)
    with open(path, "rb") as stream:
        data_start = len(stream.readline()) if has_header else 0
        if stream.read(3) == b"\xef\xbb\xbf" and not has_header:
            data_start = 3
        end = stream.seek(0, io.SEEK_END)
        begin = _line_start(stream, data_start + (end - data_start) * rank // size, data_start)
        finish = _line_start(stream, data_start + (end - data_start) * (rank + 1) // size, data_start)
        stream.seek(begin)
        text = stream.read(finish - begin)
    if not text.strip():
        return _split(path, np.empty((0, len(names))), names, column)
    try:
        frame = pd.read_csv(io.BytesIO(text), sep=delimiter, header=None, skipinitialspace=True,
                            skip_blank_lines=True, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: malformed CSV in bytes {begin}-{finish} ({str(error).strip()})") from None
    if frame.shape[1] != len(names):
        raise DataError(f"{path}: rows of {frame.shape[1]} columns in bytes {begin}-{finish}, but the first line has "
                        f"{len(names)}")
    text_columns = [names[i] for i in range(frame.shape[1]) if frame[i].dtype.kind not in "biuf"]
    if text_columns:
        raise DataError(f"{path}: columns {text_columns} hold text; fnn train --distributed takes numbers only "
                        "(encode them beforehand, or train on one process)")
    return _split(path, frame.to_numpy(dtype=np.float64), names, column)


def _line_start(stream, offset: int, data_start: int) -> int:
    """The first line start at or after `offset` (a line belongs to the rank its first byte is in)."""
    if offset <= data_start:
        return data_start
    stream.seek(offset - 1)
    if stream.read(1) == b"\n":
        return offset
    stream.readline()
    return stream.tell()


def _target_index(path: Path, names: List[str], target) -> int:
    if target is None:
        return len(names) - 1
    if str(target) in names:
        return names.index(str(target))
    try:
        index = int(target)
    except (TypeError, ValueError):
        index = None
    if index is not None and -len(names) <= index < len(names):
        return index % len(names)
    raise DataError(f"{path}: no target column {target!r}; the columns are {names}")


def _split(path: Path, part: np.ndarray, names: List[str], column: int):
    if np.isnan(part).any():
        raise DataError(f"{path}: missing values; fnn train --distributed takes complete numeric data "
                        "(impute beforehand, or train on one process)")
    X = np.delete(part, column, axis=1)
    return X, part[:, column], [n for i, n in enumerate(names) if i != column], names[column]


def pooled_moments(count: int, mean: np.ndarray, variance: np.ndarray, comm) -> Tuple[int, np.ndarray, np.ndarray]:
    """The row count, mean and (population) variance over every rank's rows, from each rank's own
    (Chan et al.'s pairwise formula, in float64)."""
    parts = comm.allgather((int(count), np.asarray(mean, np.float64), np.asarray(variance, np.float64)))
    total = sum(n for n, _, _ in parts)
    if total == 0:
        raise ValueError("no rows on any rank")
    pooled_mean = sum(n * m for n, m, _ in parts) / total
    pooled_variance = sum(n * (v + (m - pooled_mean) ** 2) for n, m, v in parts) / total
    return total, pooled_mean, pooled_variance


def pool_scaler(scaler, comm) -> None:
    """Make a StandardScaler fitted on this rank's rows the one fitted on every rank's rows."""
    total, mean, variance = pooled_moments(int(scaler.n_samples_seen_), scaler.mean_, scaler.var_, comm)
    scaler.n_samples_seen_ = total
    scaler.mean_, scaler.var_ = mean, variance
    scaler.scale_ = np.where(variance > 0, np.sqrt(variance), 1.0)


def global_labels(y: np.ndarray, comm) -> Optional[np.ndarray]:
    """The sorted union of every rank's labels."""
    return np.unique(np.concatenate(comm.allgather(np.unique(y))))
