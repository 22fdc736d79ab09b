"""Activation functions of section 4.1 (formulas (4.4)-(4.27), table 4.2).

Each hidden layer of a :class:`fnn.Network` takes one of these, by name (``"relu"``) or as an
instance when it has a hyper-parameter (``fnn.LeakyReLU(gamma=0.1)``). The C++ engine computes
the values and derivatives; calling an instance on a NumPy array evaluates the same C++ code
in float64, which is how the tests and figures check them.
"""

from __future__ import annotations

import math
from typing import ClassVar, Union

import numpy as np

from .._engine import core as _core

__all__ = [
    "Activation", "Identity", "Logistic", "Tanh", "HardLogistic", "HardTanh", "ReLU",
    "LeakyReLU", "PReLU", "ELU", "Softplus", "Maxout", "resolve_activation",
]


class Activation:
    """Base class: an activation f applied to a layer's net input z, giving a = f(z) (4.3)."""

    name: ClassVar[str] = ""
    #: "glorot" for sigmoid-type units, "he" for rectifier-type units (used by ``init="auto"``).
    init_family: ClassVar[str] = "glorot"
    #: γ of Leaky ReLU and ELU, the initial γᵢ of PReLU; unused by the others.
    gamma: float = 0.0
    #: K of maxout; 1 for the others.
    pieces: int = 1

    def params(self) -> dict:
        """The hyper-parameters that distinguish this activation (empty for most)."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.params() == other.params()

    def __hash__(self):
        return hash((type(self), tuple(self.params().items())))

    def __call__(self, z):
        """f(z), element-wise, in float64."""
        return _core.activation_value(self.name, self.gamma, _as_float64(z)).reshape(np.shape(z))

    def derivative(self, z):
        """f'(z), element-wise, in float64 (table 4.2)."""
        return _core.activation_derivative(self.name, self.gamma, _as_float64(z)).reshape(np.shape(z))


def _as_float64(z):
    return np.ascontiguousarray(z, dtype=np.float64).ravel()


class Identity(Activation):
    """Identity: f(x) = x, f'(x) = 1. The output activation for regression."""

    name: ClassVar[str] = "identity"


class Logistic(Activation):
    """Logistic function (4.4): σ(x) = 1 / (1 + exp(−x)), with σ'(x) = σ(x)(1 − σ(x)) ∈ [0, 0.25]."""

    name: ClassVar[str] = "logistic"


class Tanh(Activation):
    """Tanh (4.5): tanh(x) = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ) = 2σ(2x) − 1, with tanh'(x) = 1 − tanh(x)² ∈ [0, 1]."""

    name: ClassVar[str] = "tanh"


class HardLogistic(Activation):
    """Hard-logistic (4.11): max(min(0.25x + 0.5, 1), 0).

    The chapter's first-order Taylor approximation of σ at 0, clipped to [0, 1]; its derivative
    is 0.25 on (−2, 2) and 0 elsewhere. Not PyTorch's or Keras's "hardsigmoid", which is x/6 + 0.5.
    """

    name: ClassVar[str] = "hard_logistic"


class HardTanh(Activation):
    """Hard-tanh (4.15): max(min(x, 1), −1); derivative 1 on (−1, 1) and 0 elsewhere."""

    name: ClassVar[str] = "hard_tanh"


class ReLU(Activation):
    """Rectified linear unit (4.17): max(0, x); derivative I(x > 0), so 0 at x = 0."""

    name: ClassVar[str] = "relu"
    init_family: ClassVar[str] = "he"


class LeakyReLU(Activation):
    """Leaky ReLU (4.19): max(0, x) + γ·min(0, x); derivative 1 for x > 0 and γ for x ≤ 0.

    Parameters
    ----------
    gamma : float, default 0.01
        The slope γ for x ≤ 0 (a small constant).
    """

    name: ClassVar[str] = "leaky_relu"
    init_family: ClassVar[str] = "he"
    def __init__(self, gamma: float = 0.01):
        self.gamma = _finite_float(gamma, "LeakyReLU gamma")

    def params(self):
        return {"gamma": self.gamma}


class PReLU(Activation):
    """Parametric ReLU (4.22): PReLUᵢ(x) = max(0, x) + γᵢ·min(0, x), with γᵢ learned.

    The slopes are trainable parameters (``slopes_l`` in :meth:`fnn.Network.parameters`),
    updated by SGD like the weights but never included in the L2 penalty.

    Parameters
    ----------
    init : float, default 0.25
        Initial value of every γᵢ.
    shared : bool, default False
        False: one γᵢ per neuron. True: one γ shared by the whole layer.
    """

    name: ClassVar[str] = "prelu"
    init_family: ClassVar[str] = "he"
    def __init__(self, init: float = 0.25, shared: bool = False):
        self.gamma = self.init = _finite_float(init, "PReLU init")
        self.shared = bool(shared)

    def params(self):
        return {"init": self.init, "shared": self.shared}


class ELU(Activation):
    """Exponential linear unit (4.24): max(0, x) + min(0, γ(exp(x) − 1)).

    Derivative I(x > 0) + I(x ≤ 0)·γ·exp(x) (table 4.2).

    Parameters
    ----------
    gamma : float, default 1.0
        γ ≥ 0, the value −γ that the function saturates to as x → −∞.
    """

    name: ClassVar[str] = "elu"
    init_family: ClassVar[str] = "he"
    def __init__(self, gamma: float = 1.0):
        gamma = _finite_float(gamma, "ELU gamma")
        if gamma < 0:
            raise ValueError(f"ELU gamma must be >= 0 (4.24), got {gamma}")
        self.gamma = gamma

    def params(self):
        return {"gamma": self.gamma}


class Softplus(Activation):
    """Softplus (4.25): log(1 + exp(x)), computed as max(x, 0) + log(1 + exp(−|x|)).

    Its derivative is the logistic function 1 / (1 + exp(−x)).
    """

    name: ClassVar[str] = "softplus"


class Maxout(Activation):
    """Maxout unit (4.26)-(4.27): K weight vectors per unit, output maxₖ (wₖᵀx + bₖ).

    A maxout layer of m units has weights of shape (m, K, m⁽ˡ⁻¹⁾) and biases of shape (m, K).
    The error term flows only to the piece that attains the maximum (the first, on ties).

    Parameters
    ----------
    pieces : int, default 2
        K, the number of linear pieces per unit (K ≥ 1).
    """

    name: ClassVar[str] = "maxout"
    init_family: ClassVar[str] = "he"
    def __init__(self, pieces: int = 2):
        if isinstance(pieces, bool) or not isinstance(pieces, (int, np.integer)) or pieces < 1:
            raise ValueError(f"Maxout pieces must be an integer >= 1, got {pieces!r}")
        self.pieces = int(pieces)

    def params(self):
        return {"pieces": self.pieces}

    def __call__(self, z):
        """maxₖ z along the last axis, which must hold the K net inputs of each unit."""
        return np.max(np.asarray(z, dtype=np.float64), axis=-1)

    def derivative(self, z):
        raise TypeError("maxout is not an element-wise function; its derivative selects the winning piece")


_BY_NAME = {
    cls.name: cls
    for cls in (Identity, Logistic, Tanh, HardLogistic, HardTanh, ReLU, LeakyReLU, PReLU, ELU, Softplus, Maxout)
}
_ALIASES = {"sigmoid": "logistic", "linear": "identity", "hard_sigmoid": "hard_logistic"}

ActivationLike = Union[str, Activation]


def resolve_activation(spec: ActivationLike) -> Activation:
    """An :class:`Activation` from a name such as ``"relu"`` or an instance (returned as is)."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower().replace("-", "_")
        key = _ALIASES.get(key, key)
        if key in _BY_NAME:
            return _BY_NAME[key]()
        raise ValueError(f"unknown activation {spec!r}; choose one of {sorted(_BY_NAME)}")
    raise TypeError(f"an activation must be a name or an fnn.Activation, got {type(spec).__name__}")


def activation_to_dict(f: Activation) -> dict:
    """A JSON-able description of `f`: its name and hyper-parameters."""
    return {"name": f.name, **f.params()}


def activation_from_dict(spec: dict) -> Activation:
    """The activation that :func:`activation_to_dict` described."""
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in _BY_NAME:
        raise ValueError(f"unknown activation {name!r}")
    return _BY_NAME[name](**spec)


def _finite_float(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return value
