"""bfloat16 products (``dtype="bfloat16"``): whether this CPU and this build can run them, and
where oneDNN's library is.

The engine loads oneDNN (``libdnnl.so.3``) only when a network asks for bfloat16, from the
``onednn-cpu-gomp`` package that ``pip install 'fnn[bfloat16]'`` brings (or from the file that the
``FNN_ONEDNN_LIBRARY`` environment variable names), so fnn installs and imports without it.
"""

from __future__ import annotations

import importlib.metadata
import os
from functools import lru_cache

from ._engine import core as _core

#: What dtype="bfloat16" needs of a CPU, named in its errors.
NEEDED = ("AVX512-BF16 (Intel Cooper Lake, Sapphire Rapids and later; AMD Zen 4 and later) or AMX-BF16 "
          "instructions")


class BfloatUnavailable(ImportError):
    """bfloat16 products cannot run in this installation: oneDNN is not installed, or fnn was
    built without its headers."""


def instructions() -> str:
    """This CPU's bfloat16 instructions that oneDNN uses: ``"amx_bf16"``, ``"avx512_bf16"`` or ``""``."""
    return _core.bfloat16_instructions()


@lru_cache(maxsize=None)
def _installed_library() -> str:
    try:
        dist = importlib.metadata.distribution("onednn-cpu-gomp")
    except importlib.metadata.PackageNotFoundError:
        return ""
    for file in dist.files or ():
        if file.name == "libdnnl.so.3":
            return str(dist.locate_file(file))
    return ""


def library() -> str:
    """The path of the oneDNN library to load; raises BfloatUnavailable saying how to install it."""
    path = os.environ.get("FNN_ONEDNN_LIBRARY") or _installed_library()
    if not path or not os.path.exists(path):
        where = f" (FNN_ONEDNN_LIBRARY={path!r} does not exist)" if os.environ.get("FNN_ONEDNN_LIBRARY") else ""
        raise BfloatUnavailable("dtype='bfloat16' runs its matrix products in oneDNN, which is not installed"
                                f"{where}: pip install 'fnn[bfloat16]'")
    return path


def check_available() -> None:
    """Raises, before any work, if bfloat16 products cannot run here: ValueError naming the missing
    instructions on a CPU without them, BfloatUnavailable (an ImportError) without oneDNN or in a
    build without its headers."""
    if not instructions():
        raise ValueError(f"dtype='bfloat16' needs a CPU with {NEEDED}; this CPU has neither. "
                         "Use dtype='float32'.")
    if not _core.onednn_headers:
        raise BfloatUnavailable("this build of fnn has no bfloat16 products (oneDNN's headers, from the "
                                "onednn-devel-cpu-gomp package, were not found when it was compiled)")
    library()


def bfloat16_available() -> bool:
    """Whether ``dtype="bfloat16"`` can run here: a CPU with AVX512-BF16 or AMX-BF16, a build of fnn
    with oneDNN's headers, and oneDNN installed (``pip install 'fnn[bfloat16]'``)."""
    try:
        check_available()
    except (ValueError, BfloatUnavailable):
        return False
    return True


def check_fit(batch_size: int) -> None:
    """Raises ValueError, before any work, for a fit that bfloat16 products cannot run."""
    if batch_size < 2:
        raise ValueError("dtype='bfloat16' trains in mini-batches: batch_size must be at least 2 (32 to 256 make "
                         "the most of it), got 1; per-sample steps (batch_size=1) run in float32 only")


def enable(engine) -> None:
    """Switches a float32 engine to bfloat16 products."""
    check_available()
    engine.use_bfloat16(True, library())
