"""The same training in PyTorch on the CPU (when torch is installed): nn.Linear layers, ReLU,
cross-entropy, torch.optim.SGD with weight_decay = λ, whose step is W ← W − α(∇ + λW) for weights
and biases alike; biases are put in a group without weight decay to match (4.39)."""

from typing import List

import numpy as np


def available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


class TorchMLP:
    def __init__(self, weights: List[np.ndarray], biases: List[np.ndarray], learning_rate: float, l2: float,
                 threads: int, autocast: bool = False):
        import torch

        # autocast: torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's bfloat16 mode: float32
        # parameters, the products of forward and backward passes in bfloat16.
        self.autocast = autocast
        torch.set_num_threads(threads)
        self.torch = torch
        self.layers = []
        for W, b in zip(weights, biases):
            layer = torch.nn.Linear(W.shape[1], W.shape[0])
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(W))
                layer.bias.copy_(torch.from_numpy(b))
            self.layers.append(layer)
        self.model = torch.nn.Sequential(*sum(([layer, torch.nn.ReLU()] for layer in self.layers), [])[:-1])
        self.optimizer = torch.optim.SGD([
            {"params": [layer.weight for layer in self.layers], "weight_decay": l2},
            {"params": [layer.bias for layer in self.layers], "weight_decay": 0.0},
        ], lr=learning_rate)
        self.loss = torch.nn.CrossEntropyLoss()

    def train_epoch(self, X: np.ndarray, y: np.ndarray, order: np.ndarray, batch: int) -> None:
        torch = self.torch
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
        order_t = torch.from_numpy(order)
        for start in range(0, len(order), batch):
            rows = order_t[start:start + batch]
            self.optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
                loss = self.loss(self.model(X_t[rows]), y_t[rows])
            loss.backward()
            self.optimizer.step()

    def weights(self) -> List[np.ndarray]:
        return [layer.weight.detach().numpy().copy() for layer in self.layers]
