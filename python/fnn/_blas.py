"""Loads OpenBLAS from the scipy-openblas32 package before the engine, so that the engine's
dependency on libscipy_openblas.so is met by that file wherever pip installed it."""

import ctypes
import os


def _preload() -> None:
    try:
        import scipy_openblas32
    except ImportError:  # an engine built without OpenBLAS does not need it
        return
    path = os.path.join(scipy_openblas32.get_lib_dir(), "libscipy_openblas.so")
    if os.path.exists(path):
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


_preload()
