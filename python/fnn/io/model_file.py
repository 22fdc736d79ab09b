"""Model files: a pickle-free, versioned format, written atomically.

A model file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, each with a CRC-32). The
entry ``__metadata__`` holds UTF-8 JSON: the format's name and version, the fnn version that
wrote it, the kind of model, its architecture and training settings. Every other entry is a
numeric or string array named in that JSON. Loading reads arrays with ``allow_pickle=False`` and
builds objects only from the JSON's plain values, so a file can never execute code.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from .._version import __version__

FORMAT = "fnn-model"
#: Version of the layout; a reader accepts files up to its own version. Version 2 stores the
#: per-epoch curves (a network's history, an estimator's ``loss_curve_`` …) as arrays; version 1
#: held them in the metadata as JSON lists, and is still read.
FORMAT_VERSION = 2
_METADATA = "__metadata__"

PathLike = Union[str, os.PathLike]


class ModelFileError(ValueError):
    """A model file that cannot be read or written; the message names the file and the problem."""


def write_model(path: PathLike, kind: str, metadata: Dict[str, Any], arrays: Dict[str, np.ndarray]) -> Path:
    """Write `arrays` and `metadata` to `path` as one model file of the given `kind`, atomically.

    The archive is written to a temporary file in the same directory, flushed to disk and then
    renamed over `path`: a crash or error mid-write leaves any previous file at `path` intact.
    """
    path = Path(path)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "fnn_version": __version__, "kind": kind,
              **metadata}
    try:
        text = json.dumps(header, allow_nan=True, sort_keys=True)
    except TypeError as error:
        raise ModelFileError(f"cannot save {kind}: a setting is not a plain value ({error})") from None
    if len(text) > MAX_METADATA_BYTES:  # (JSON is ASCII here: one byte a character)
        raise ModelFileError(f"cannot save {kind}: its description takes {len(text):,} bytes, more than the "
                             f"{MAX_METADATA_BYTES:,} a model file's metadata may hold")
    entries = {_METADATA: np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
    for name, array in arrays.items():
        array = np.asarray(array)
        if array.dtype == object:
            raise ModelFileError(f"cannot save {kind}: {name} holds Python objects; only numbers and strings can "
                                 "be stored without pickle")
        entries[name] = array
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ModelFileError(f"cannot save to {path}: directory {directory} does not exist")
    if path.exists() and not path.is_file():
        raise ModelFileError(f"cannot save to {path}: it is not a regular file (a directory or a device); "
                             "it was left untouched")
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise ModelFileError(f"cannot save to {path}: {error.strerror or error} (in directory {directory}); "
                             "nothing was written") from None
    try:
        with os.fdopen(descriptor, "wb") as stream:
            np.savez(stream, **entries)  # type: ignore[arg-type]  # (numpy's stub: allow_pickle)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; a saved model is an ordinary file
        os.replace(temporary, path)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError):  # a full disk, a quota: said with the path, the old file kept
            raise ModelFileError(f"cannot save to {path}: {error.strerror or error}; "
                                 f"{'the previous file is unchanged' if path.exists() else 'nothing was written'}"
                                 ) from None
        raise
    return path


#: Caps on what a model file may hold, checked before anything is allocated for it, each far above
#: what any real model needs (a network's settings take a few kB of metadata whatever its history,
#: whose curves are arrays; a pipeline stores two arrays per text column). With them, reading the
#: metadata of any file costs at most about twice its size + 8 MiB, however it is crafted.
MAX_METADATA_BYTES = 16 << 20
#: JSON values (numbers, strings, lists, objects) in the metadata, and lists/objects nested in each other.
MAX_METADATA_VALUES = 1_000_000
MAX_METADATA_DEPTH = 32
#: Entries (arrays) in the archive.
MAX_ARRAYS = 10_000


class Entries(Mapping):
    """A model file's arrays, remembering which ones the reader looked at: an entry nothing asked
    for is not part of the model, and the file is refused (``unused``)."""

    def __init__(self, arrays: Dict[str, np.ndarray], prefix: str = "", taken: Optional[set] = None):
        self._arrays, self._prefix = arrays, prefix
        self._taken = set() if taken is None else taken

    def __getitem__(self, name: str) -> np.ndarray:
        array = self._arrays[self._prefix + name]
        self._taken.add(self._prefix + name)
        return array

    def __iter__(self) -> Iterator[str]:
        return (name[len(self._prefix):] for name in self._arrays if name.startswith(self._prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def under(self, prefix: str) -> "Entries":
        """The entries named ``prefix + name``, by ``name``."""
        return Entries(self._arrays, self._prefix + prefix, self._taken)

    def unused(self) -> List[str]:
        return sorted(set(self._arrays) - self._taken)


def _check_metadata_shape(path: Path, text: np.ndarray) -> None:
    """Refuse metadata (UTF-8 bytes) that would cost far more memory than its size once parsed: too
    many JSON values or too deep a nesting. Counted on the bytes 256 KiB at a time (a few MB of
    counts whatever the size; brackets inside strings are counted too, which only errs on the side of
    refusing absurd files)."""
    commas = containers = depth = deepest = 0
    for start in range(0, text.size, 1 << 18):
        chunk = text[start:start + (1 << 18)]
        opening = (chunk == ord("[")) | (chunk == ord("{"))
        closing = (chunk == ord("]")) | (chunk == ord("}"))
        commas += int(np.count_nonzero(chunk == ord(",")))
        containers += int(np.count_nonzero(opening))
        running = np.cumsum(opening.astype(np.int8) - closing, dtype=np.int64)
        running += depth
        if running.size:
            deepest, depth = max(deepest, int(running.max())), int(running[-1])
    values = commas + containers + 1
    if values > MAX_METADATA_VALUES:
        raise ModelFileError(f"{path} has metadata of about {values:,} values, more than the {MAX_METADATA_VALUES:,} "
                             "a model file may hold")
    # Parsed, a number or short string costs ~32 bytes (object and pointer), a list or object ~64
    # more: refused when that would exceed twice the text plus 8 MiB (real metadata: ~1.6× its text).
    cost = 32 * values + 64 * containers
    if cost > 2 * text.size + (8 << 20):
        raise ModelFileError(f"{path} has metadata of {text.size:,} bytes holding about {values:,} values, which "
                             f"would take ~{cost >> 20} MB to read: more than a model file's metadata may cost "
                             "(twice its size + 8 MiB)")
    if deepest > MAX_METADATA_DEPTH:
        raise ModelFileError(f"{path} has metadata nested {deepest} levels deep, more than the {MAX_METADATA_DEPTH} "
                             "a model file may have")


def _array_headers(path: Path,
                   archive: zipfile.ZipFile) -> Dict[str, Tuple[Tuple[int, ...], np.dtype, zipfile.ZipInfo]]:
    """(shape, dtype, entry) of every .npy entry, read from the headers alone: nothing is allocated
    until every size the file declares has been checked against what the file really holds."""
    file_size = path.stat().st_size
    declared = 0
    headers = {}
    if len(archive.infolist()) > MAX_ARRAYS:
        raise ModelFileError(f"{path} holds {len(archive.infolist()):,} entries, more than the {MAX_ARRAYS:,} a model "
                             "file may hold")
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise ModelFileError(f"{path} is not an fnn model file (entry {info.filename!r} is not an array)")
        if info.compress_type != zipfile.ZIP_STORED:
            # fnn writes uncompressed entries: their sizes are bounded by the file's own.
            raise ModelFileError(f"{path} has a compressed entry {info.filename!r}; fnn model files store arrays "
                                 "uncompressed")
        declared += info.file_size
        if info.file_size != info.compress_size or declared > file_size:
            raise ModelFileError(f"{path} is corrupted: its entries claim more bytes than the file holds")
        with archive.open(info) as stream:
            try:
                version = np.lib.format.read_magic(stream)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
            except (ValueError, SyntaxError, TypeError, EOFError) as error:
                raise ModelFileError(f"{path} has an unreadable array header in {info.filename!r}: {error}") from None
            if dtype.hasobject:
                raise ModelFileError(f"{path} holds Python objects in {info.filename!r}; fnn model files never do "
                                     "(refused: loading them would need pickle)")
            size = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            if size > info.file_size:
                raise ModelFileError(f"{path} is corrupted: {info.filename!r} declares {size} bytes of data in an "
                                     f"entry of {info.file_size}")
        headers[info.filename[:-len(".npy")]] = (tuple(shape), dtype, info)
    return headers


def read_model(path: PathLike) -> Tuple[str, Dict[str, Any], Dict[str, np.ndarray]]:
    """(kind, metadata, arrays) of a model file, every entry read and checked.

    Every array's header is checked against the bytes the file holds before any array is read,
    so a file of a few kilobytes cannot make this allocate gigabytes.

    Raises
    ------
    FileNotFoundError
        If there is no file at `path`.
    ModelFileError
        If the file is truncated or corrupted, is not an fnn model file, or was written by a
        newer format version than this fnn reads.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if not path.is_file():
        raise ModelFileError(f"{path} is not a regular file (a directory or a device), not a model file")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not an fnn model file (not an .npz archive; truncated or a different format)")
    try:
        with zipfile.ZipFile(path) as archive:
            headers = _array_headers(path, archive)
            if _METADATA not in headers:
                raise ModelFileError(f"{path} is an .npz archive but not an fnn model file (no {_METADATA} entry)")
            shape, dtype, _ = headers[_METADATA]
            if dtype != np.uint8 or len(shape) != 1:
                raise ModelFileError(f"{path} has metadata of shape {shape} and dtype {dtype}, not UTF-8 text")
            if shape[0] > MAX_METADATA_BYTES:
                raise ModelFileError(f"{path} has {shape[0]:,} bytes of metadata, more than the "
                                     f"{MAX_METADATA_BYTES:,} a model file may hold")
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in headers}  # reading checks each entry's CRC-32
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError,
            NotImplementedError, RuntimeError) as error:
        raise ModelFileError(f"{path} is corrupted or truncated: {error}") from None
    raw = arrays.pop(_METADATA)
    _check_metadata_shape(path, raw)
    try:
        text = str(raw.data, "utf-8")  # decoded in place; the bytes are let go before the parse
        del raw
        header = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        problem = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise ModelFileError(f"{path} has unreadable metadata: {problem}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an fnn model file (format "
                             f"{header.get('format') if isinstance(header, dict) else None!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path} has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model-file format version {version}, written by fnn {header.get('fnn_version')}; this fnn "
            f"({__version__}) reads versions up to {FORMAT_VERSION}: upgrade fnn to load it")
    kind = header.get("kind")
    if not isinstance(kind, str):
        raise ModelFileError(f"{path} does not say what kind of model it holds")
    return kind, header, arrays


def require(condition: bool, path: PathLike, problem: str) -> None:
    """Raise ModelFileError naming `path` and `problem` unless `condition` holds."""
    if not condition:
        raise ModelFileError(f"{path}: {problem}")


# Readers and writers by kind, registered by the modules that define each kind of model. Those
# modules are imported when a file of their kind is first loaded or saved: the estimators import
# scikit-learn, which `import fnn` leaves for their first use.
_READERS: Dict[str, Callable[[Path, Dict[str, Any], Mapping[str, np.ndarray]], Any]] = {}
_WRITERS: Dict[str, Callable[[Any, PathLike], Any]] = {}
_MODULES = {"Network": "fnn.network", "FNNClassifier": "fnn.sklearn.classifier",
            "FNNRegressor": "fnn.sklearn.regressor", "Pipeline": "fnn.sklearn.transformer_file"}


def register(kind: str, reader: Callable[[Path, Dict[str, Any], Mapping[str, np.ndarray]], Any],
             writer: Callable[[Any, PathLike], Any]) -> None:
    """Make `kind` loadable by `reader(path, header, arrays)` and savable by `writer(model, path)`."""
    _READERS[kind] = reader
    _WRITERS[kind] = writer


def _registered(kind: str) -> None:
    """Import the module that registers `kind`, if it is one of fnn's and not imported yet."""
    if kind in _MODULES and kind not in _READERS:
        import importlib

        importlib.import_module(_MODULES[kind])


def _kind_of(model) -> str:
    """The kind a model is saved as: its class's name, for fnn's classes and scikit-learn's Pipeline."""
    cls = type(model)
    if cls.__name__ == "Pipeline" and cls.__module__.startswith("sklearn."):
        return "Pipeline"
    return cls.__name__ if cls.__module__.startswith("fnn.") else ""


def save(model, path: PathLike) -> None:
    """Write a fitted model to `path`, atomically, in fnn's pickle-free format.

    `model` is a :class:`fnn.Network`, a fitted :class:`fnn.FNNClassifier` or
    :class:`fnn.FNNRegressor`, or a fitted scikit-learn ``Pipeline`` of transformers
    (``StandardScaler``, ``MinMaxScaler``, ``SimpleImputer``, ``OneHotEncoder``,
    ``ColumnTransformer``, nested pipelines) ending in one of the estimators, so that a
    preprocessed model can be used by ``fnn predict``. Anything else raises ModelFileError.
    """
    kind = _kind_of(model)
    _registered(kind)
    writer = _WRITERS.get(kind)
    if writer is None:
        raise ModelFileError(f"cannot save a {type(model).__name__}: fnn.save takes a Network, an FNNClassifier or "
                             "FNNRegressor, or a Pipeline ending in one")
    writer(model, path)


def load(path: PathLike):
    """Load a model saved by ``save``: a :class:`fnn.Network`, :class:`fnn.FNNClassifier`,
    :class:`fnn.FNNRegressor` or a scikit-learn ``Pipeline`` ending in one, with bit-identical
    parameters and fitted transformers.

    Never executes code from the file (no pickle). Raises :class:`ModelFileError` for a
    truncated, corrupted, foreign or newer-version file, and FileNotFoundError if it is missing.
    """
    path = Path(path)
    kind, header, arrays = read_model(path)
    _registered(kind)
    reader = _READERS.get(kind)
    if reader is None:
        raise ModelFileError(f"{path} holds a model of kind {kind!r}, which this fnn does not know")
    entries = Entries(arrays)
    try:
        model = reader(path, header, entries)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, RecursionError) as error:
        # The readers check what they use; whatever else a malformed file trips is still its fault.
        raise ModelFileError(f"{path} has inconsistent contents: {type(error).__name__}: {error}") from None
    unused = entries.unused()
    if unused:
        raise ModelFileError(f"{path} holds {len(unused)} array(s) that are not part of the {kind} "
                             f"(first: {unused[0]!r}); refused as tampered with")
    return model
