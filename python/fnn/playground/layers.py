"""Every layer's net input z⁽ˡ⁾ and activation a⁽ˡ⁾, for the page's neuron maps and the chapter panel.

The engine returns only the output a⁽ᴸ⁾; the playground also draws what each hidden neuron
computes. This follows (4.28)-(4.29) in NumPy, with each activation evaluated by the engine's own
code (:class:`fnn.Activation` instances are callable); the tests check every layer against the
NumPy reference of the chapter (tests/reference.py).
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np

from ..core.activations import Maxout, PReLU
from ..network import Network


def layer_values(network: Network, X: np.ndarray) -> List[Tuple[np.ndarray, np.ndarray]]:
    """[(z⁽ˡ⁾, a⁽ˡ⁾) for l = 1 … L] for the rows of X, in float64.

    A maxout layer's z⁽ˡ⁾ has shape (n, m, K) (each unit's K pieces, (4.26)); the output layer's
    a⁽ᴸ⁾ is ``network.forward(X)``.
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
            else:  # the output layer's softmax (4.37), logistic (4.36) or identity: the engine's own
                a = network.forward(X).astype(np.float64)
        values.append((z, a))
    return values
