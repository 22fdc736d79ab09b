"""Vanishing gradients (4.85)-(4.87): per-layer gradient norms of a 10-layer network with
logistic, tanh and ReLU units, at initialisation and during training; and exercise 4-6, whether
a larger learning rate helps."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from ...core.history import History
from ...io.datasets import load_digits
from ...network import Network, TrainingDiverged
from ..plots import new_figure, save_figure
from .base import Experiment, Result

LAYERS = 10  # L: nine hidden layers of 32 units and the output layer
EPOCHS = 20


def _network(activation: str, seed: int) -> Network:
    return Network([64] + [32] * (LAYERS - 1) + [10], activation, dtype="float64", seed=seed)


def run(output: Path, seed: int) -> Result:
    X, y = load_digits("float64")
    X, y = X[:600], y[:600]
    histories, accuracy = {}, {}
    for activation in ("logistic", "tanh", "relu"):
        net = _network(activation, seed)
        histories[activation] = net.fit(X, y, learning_rate=0.01, max_epochs=EPOCHS, validation_fraction=0,
                                        record_gradient_norms=True)
        accuracy[activation] = net.score(X, y)
    # Exercise 4-6: the logistic network with larger learning rates.
    larger: Dict[float, Tuple[Optional[History], float]] = {}
    for rate in (0.1, 1.0):
        net = _network("logistic", seed)
        try:
            larger[rate] = (net.fit(X, y, learning_rate=rate, max_epochs=EPOCHS, validation_fraction=0,
                                    record_gradient_norms=True), net.score(X, y))
        except TrainingDiverged:
            larger[rate] = (None, float("nan"))

    numbers, lines = {}, [f"‖∂R/∂W⁽ˡ⁾‖ at initialisation, layer 1 … {LAYERS} (digits, 600 samples, L = {LAYERS}):"]
    for activation, history in histories.items():
        norms = history.gradient_norms[0]
        numbers[f"{activation}_first_to_last_ratio_at_init"] = norms[0] / norms[-1]
        trained = history.gradient_norms[-1]
        numbers[f"{activation}_first_to_last_ratio_trained"] = trained[0] / trained[-1]
        numbers[f"{activation}_training_accuracy"] = accuracy[activation]
        lines.append(f"  {activation:<8} " + " ".join(f"{v:.1e}" for v in norms)
                     + f"   layer 1 / layer {LAYERS}: {norms[0] / norms[-1]:.1e}")
    logistic_norms = histories["logistic"].gradient_norms[0]
    numbers["logistic_mean_shrink_per_layer"] = float(np.exp(np.mean(np.diff(np.log(logistic_norms)))))
    lines.append(f"logistic: the gradient grows by ×{numbers['logistic_mean_shrink_per_layer']:.1f} per layer towards "
                 "the output, i.e. shrinks by that factor per layer towards the input (σ' ≤ 0.25, (4.86))")
    lines.append(f"training accuracy after {EPOCHS} epochs at α = 0.01: " +
                 ", ".join(f"{a} {accuracy[a]:.3f}" for a in accuracy))
    for rate, (_, score) in larger.items():
        numbers[f"logistic_accuracy_learning_rate_{rate:g}"] = score
        lines.append(f"exercise 4-6, logistic with α = {rate:g}: training accuracy {score:.3f}"
                     + ("" if history is None else
                        f", layer 1 / layer {LAYERS} gradient "
                        f"{history.gradient_norms[-1][0] / history.gradient_norms[-1][-1]:.1e}"))
    lines.append("A larger learning rate scales every layer's step alike: the ratio between layers stays, so the "
                 "first layers still barely move while the last ones overshoot.")

    figure = new_figure(15, 4.5)
    left, middle, right = figure.subplots(1, 3)
    layers = np.arange(1, LAYERS + 1)
    for activation, history in histories.items():
        line, = left.semilogy(layers, history.gradient_norms[0], marker="o", label=f"{activation}, initialisation")
        left.semilogy(layers, history.gradient_norms[-1], marker="x", linestyle="--", color=line.get_color(),
                      label=f"{activation}, after {EPOCHS} epochs")
        by_epoch = np.array(history.gradient_norms)
        middle.semilogy(by_epoch[:, 0], color=line.get_color(), label=f"{activation}, layer 1")
        middle.semilogy(by_epoch[:, -1], color=line.get_color(), linestyle=":", label=f"{activation}, layer {LAYERS}")
        right.plot(range(1, EPOCHS + 1), history.train_risk, color=line.get_color(), label=f"{activation}, α = 0.01")
    for rate, (larger_history, _) in larger.items():
        if larger_history is not None:
            right.plot(range(1, larger_history.n_epochs + 1), larger_history.train_risk, linestyle="--",
                       label=f"logistic, α = {rate:g}")
    left.set_xlabel("layer l")
    left.set_ylabel(r"$\|\partial R / \partial W^{(l)}\|_F$ (Frobenius norm)")
    left.set_title("gradient per layer")
    left.legend(fontsize=7)
    middle.set_xlabel("epoch")
    middle.set_ylabel(r"$\|\partial R / \partial W^{(l)}\|_F$")
    middle.set_title("first and last layer during training")
    middle.legend(fontsize=7)
    right.set_xlabel("epoch")
    right.set_ylabel("training risk")
    right.set_title("training (exercise 4-6: larger α)")
    right.legend(fontsize=7)
    return Result("vanishing-gradient", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("vanishing-gradient", "per-layer gradient norms of a 10-layer network: logistic vs tanh vs "
                                              "ReLU "
                        "(4.85)-(4.87), exercise 4-6", run)
