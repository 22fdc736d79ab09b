"""Gradient checking by numerical differentiation (section 4.5.1)."""

from __future__ import annotations

from typing import Dict

import numpy as np

from ..network import Network


def check_gradients(network: Network, X, y, *, l2: float = 0.0, epsilon: float = 1e-6) -> Dict[str, float]:
    """Compare backpropagation's gradients with central differences (4.64), in float64.

    Each trainable scalar θ is perturbed by ±ε and the risk (4.39) recomputed:
    ∂R/∂θ ≈ (R(θ + ε) − R(θ − ε)) / 2ε, whose truncation error is O(ε²) against O(ε) for the
    forward difference (4.63). The network is copied to float64 first and left unchanged.
    This costs two forward passes over X per parameter: use a small network and a few samples.

    Parameters
    ----------
    network : Network
    X, y : arrays accepted by ``network.fit``
    l2 : float, default 0.0
        λ of the risk (4.39).
    epsilon : float, default 1e-6
        The perturbation ε.

    Returns
    -------
    dict
        For each parameter name, the largest relative error |g − ĝ| / max(|g| + |ĝ|, 1e-8)
        between the backpropagated gradient g and the numerical one ĝ. Values around 1e-7 or
        below mean agreement; a kink of ReLU, hard-tanh or maxout crossed by ±ε can give a
        larger error for that one entry.
    """
    twin = network.astype(np.float64)
    X = np.asarray(X, dtype=np.float64)
    _, grads = twin.loss_and_gradients(X, y, l2)
    Xc = np.ascontiguousarray(X)
    targets = twin._targets(y, Xc.shape[0])
    errors: Dict[str, float] = {}
    for name, theta in twin.parameters().items():
        numerical = np.empty_like(theta)
        flat, flat_num = theta.reshape(-1), numerical.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + epsilon
            plus = twin._risk(Xc, targets, l2)
            flat[i] = saved - epsilon
            minus = twin._risk(Xc, targets, l2)
            flat[i] = saved
            flat_num[i] = (plus - minus) / (2 * epsilon)
        scale = np.maximum(np.abs(grads[name]) + np.abs(numerical), 1e-8)
        errors[name] = float(np.max(np.abs(grads[name] - numerical) / scale))
    return errors
