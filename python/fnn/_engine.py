"""Picks the compiled engine for this CPU: the x86-64-v4 (AVX-512) build, the x86-64-v3 (AVX2)
build, or the baseline, whichever is the best one both built and supported here."""

import importlib

from . import _blas  # noqa: F401  (loads OpenBLAS before any engine module needs it)
from . import _core as _baseline


def _best():
    level = _baseline.cpu_level()
    for name, needs in (("_core_x86_64_v4", 4), ("_core_x86_64_v3", 3)):
        if level >= needs:
            try:
                return importlib.import_module(f"{__package__}.{name}")
            except ImportError:  # not built (FNN_NATIVE=ON, or not x86-64)
                continue
    return _baseline


#: The engine module in use; ``core.__name__`` says which build it is.
core = _best()
