"""Loads OpenBLAS from the scipy-openblas32 package before the engine, so that the engine's
dependency on libscipy_openblas.so is met by that file wherever pip installed it."""

import ctypes
import os


_library = None


def _preload() -> None:
    global _library
    try:
        import scipy_openblas32
    except ImportError:  # an engine built without OpenBLAS does not need it
        return
    path = os.path.join(scipy_openblas32.get_lib_dir(), "libscipy_openblas.so")
    if os.path.exists(path):
        _library = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


def core_name():
    """The kernel family fnn's OpenBLAS runs ("SkylakeX", "Haswell", "Zen", …; chosen for the CPU,
    or by OPENBLAS_CORETYPE), or None without OpenBLAS."""
    if _library is None:
        return None
    function = _library.scipy_openblas_get_corename
    function.restype = ctypes.c_char_p
    return function().decode()


_preload()


#: OpenBLAS kernel families whose single-precision products round an element of the result
#: differently with where it sits in the product (its row of the block, the product's width):
#: AVX2's, Haswell's, which OpenBLAS also runs on Zen. Measured: SkylakeX (AVX-512), Sandybridge
#: (AVX) and Prescott (SSE3, the generic kernels) do not. On these families the mini-batch
#: kernel's float32 weights depend, in the last bits, on the number of threads the work is cut
#: for, and a float32 prediction on the rows predicted with it (docs/reliability.md, "Determinism").
POSITION_ROUNDING_KERNELS = ("Haswell", "Zen")


def products_round_by_position() -> bool:
    """Whether fnn's OpenBLAS runs kernels whose float32 products round an element by its
    position in the product (see POSITION_ROUNDING_KERNELS)."""
    return core_name() in POSITION_ROUNDING_KERNELS
