"""Random initialisation of the weights (Algorithm 4.1, line 1).

Glorot-style for sigmoid-type units, He-style for rectifier-type units, both uniform and
scaled by fan-in/fan-out; biases start at 0. ``"zeros"`` sets every weight to 0, which exercise
4-5 asks about: every hidden unit of a layer then computes the same function and receives the
same update, so the symmetry is never broken.
"""

from __future__ import annotations

import numpy as np

SCHEMES = ("auto", "glorot", "he", "zeros")


def initial_weights(rng: np.random.Generator, shape: tuple, fan_in: int, fan_out: int,
                    scheme: str, dtype) -> np.ndarray:
    """Weights of `shape` drawn with `scheme` ("glorot", "he" or "zeros")."""
    if scheme == "zeros":
        return np.zeros(shape, dtype=dtype)
    if scheme == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))  # Var = 2 / (fan_in + fan_out)
    elif scheme == "he":
        limit = np.sqrt(6.0 / fan_in)  # Var = 2 / fan_in, for units that zero half their inputs
    else:
        raise ValueError(f"unknown initialisation {scheme!r}; choose one of {SCHEMES}")
    # Drawn in float64 and rounded once, so float32 and float64 networks start from the same values.
    return rng.uniform(-limit, limit, size=shape).astype(dtype)
