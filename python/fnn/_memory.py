"""Parameter arrays aligned to 64 bytes: every vector load of the engine starts on a cache line,
and the same code path runs whatever address NumPy's allocator would have returned."""

import numpy as np

ALIGNMENT = 64


def aligned_empty(shape, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(size * dtype.itemsize + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + size * dtype.itemsize].view(dtype).reshape(shape)


def aligned_copy(array: np.ndarray) -> np.ndarray:
    out = aligned_empty(array.shape, array.dtype)
    np.copyto(out, array)
    return out
