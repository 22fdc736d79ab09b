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
from typing import Any, Callable, Dict, Tuple, Union

import numpy as np

from ._version import __version__

FORMAT = "fnn-model"
#: Version of the layout; a reader accepts files up to its own version.
FORMAT_VERSION = 1
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
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            np.savez(stream, **entries)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; a saved model is an ordinary file
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    return path


def read_model(path: PathLike) -> Tuple[str, Dict[str, Any], Dict[str, np.ndarray]]:
    """(kind, metadata, arrays) of a model file, every entry read and checked.

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
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not an fnn model file (not an .npz archive; truncated or a different format)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if _METADATA not in names:
                raise ModelFileError(f"{path} is an .npz archive but not an fnn model file (no {_METADATA} entry)")
            arrays = {name: archive[name] for name in names}  # reading checks each entry's CRC-32
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        raise ModelFileError(f"{path} is corrupted or truncated: {error}") from None
    raw = arrays.pop(_METADATA)
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{path} has unreadable metadata: {error}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an fnn model file (format {header.get('format') if isinstance(header, dict) else None!r})")
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


# Readers by kind, registered by the modules that define each kind of model; those modules are
# imported when a file of their kind is first loaded.
_READERS: Dict[str, Callable[[Path, Dict[str, Any], Dict[str, np.ndarray]], Any]] = {}
_MODULES = {"Network": ".network", "FNNClassifier": ".classifier", "FNNRegressor": ".regressor"}


def register(kind: str, reader: Callable[[Path, Dict[str, Any], Dict[str, np.ndarray]], Any]) -> None:
    _READERS[kind] = reader


def load(path: PathLike):
    """Load a model saved by ``save``: a :class:`fnn.Network`, :class:`fnn.FNNClassifier` or
    :class:`fnn.FNNRegressor`, with bit-identical parameters.

    Never executes code from the file (no pickle). Raises :class:`ModelFileError` for a
    truncated, corrupted, foreign or newer-version file, and FileNotFoundError if it is missing.
    """
    path = Path(path)
    kind, header, arrays = read_model(path)
    if kind in _MODULES and kind not in _READERS:
        import importlib

        importlib.import_module(_MODULES[kind], __package__)
    reader = _READERS.get(kind)
    if reader is None:
        raise ModelFileError(f"{path} holds a model of kind {kind!r}, which this fnn does not know")
    try:
        return reader(path, header, arrays)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path} has inconsistent contents: {error}") from None
