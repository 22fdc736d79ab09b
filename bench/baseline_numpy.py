"""Algorithm 4.1 written plainly in NumPy: the baseline fnn is compared with, and checked against."""

from typing import List, Tuple

import numpy as np


def train_epoch(weights: List[np.ndarray], biases: List[np.ndarray], X: np.ndarray, y: np.ndarray,
                order: np.ndarray, learning_rate: float, l2: float, batch: int) -> None:
    """One epoch of SGD on a ReLU network with a softmax output, updating the arrays in place."""
    dtype = weights[0].dtype
    lr = dtype.type(learning_rate)
    decay = dtype.type(l2)
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]
        activations, net_inputs = forward(weights, biases, X[rows])
        delta = activations[-1]
        delta[np.arange(len(rows)), y[rows]] -= 1  # softmax + cross-entropy: δ = ŷ − y
        scale = lr / dtype.type(len(rows))
        for l in reversed(range(len(weights))):
            W = weights[l]
            grad_W = delta.T @ activations[l]
            grad_b = delta.sum(axis=0)
            if l > 0:
                delta = (delta @ W) * (net_inputs[l - 1] > 0)
            W -= scale * grad_W + lr * decay * W
            biases[l] -= scale * grad_b


def forward(weights, biases, a) -> Tuple[list, list]:
    activations, net_inputs = [a], []
    for l, (W, b) in enumerate(zip(weights, biases)):
        z = a @ W.T + b
        net_inputs.append(z)
        if l + 1 < len(weights):
            a = np.maximum(z, 0)
        else:
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            a = e / e.sum(axis=1, keepdims=True)
        activations.append(a)
    return activations, net_inputs
