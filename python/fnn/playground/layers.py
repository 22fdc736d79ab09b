"""Every layer's net input z⁽ˡ⁾ and activation a⁽ˡ⁾, for the page's neuron maps and the chapter panel.

The engine returns only the output a⁽ᴸ⁾; the playground also draws what each hidden neuron
computes. This follows (4.28)-(4.29) in NumPy, with each activation evaluated by the engine's own
code (:class:`fnn.Activation` instances are callable), and its last layer is checked against
:meth:`fnn.Network.forward` by the tests.
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np

from ..core.activations import Maxout, PReLU
from ..network import Network


def layer_values(network: Network, X: np.ndarray) -> List[Tuple[np.ndarray, np.ndarray]]:
    """[(z⁽ˡ⁾, a⁽ˡ⁾) for l = 1 … L] for the rows of X, in float64.

    A maxout layer's z⁽ˡ⁾ has shape (n, m, K) (each unit's K pieces, (4.26)); the output layer's
    a⁽ᴸ⁾ is the softmax (4.37), logistic (4.35) or identity of z⁽ᴸ⁾, as ``network.forward`` gives.
    """
    parameters = network.parameters()
    a = np.asarray(X, dtype=np.float64)
    values = []
    for l in range(1, network.n_layers + 1):
        W = parameters[f"weights_{l}"].astype(np.float64)
        b = parameters[f"biases_{l}"].astype(np.float64)
        f = network.layer_activation(l)
        if isinstance(f, Maxout):
            z = np.einsum("mkj,nj->nmk", W, a) + b  # (4.26): z_k = w_kᵀa + b_k for each of K pieces
            a = f(z)
        else:
            z = a @ W.T + b  # (4.28)
            if isinstance(f, PReLU):  # (4.22) with the layer's learned slopes γᵢ
                a = np.maximum(z, 0) + parameters[f"slopes_{l}"].astype(np.float64) * np.minimum(z, 0)
            elif l < network.n_layers:
                a = f(z)  # (4.29)
            else:
                a = _output(network.output, z)
        values.append((z, a))
    return values


def _output(output: str, z: np.ndarray) -> np.ndarray:
    if output == "softmax":  # (4.37)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if output == "logistic":  # (4.35)
        return 1.0 / (1.0 + np.exp(-z))
    return z
