"""Exercise 4-5: with W = 0 and b = 0 at the start, backpropagation gives every hidden unit of a
layer the same update, so they stay identical; random initialisation breaks the symmetry."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...io.datasets import load_digits
from ...network import Network
from ..plots import new_figure, save_figure
from .base import Experiment, Result

HIDDEN = 16
EPOCHS = 20


def _spread(weights: np.ndarray) -> float:
    """Largest difference between any two hidden units' incoming weight vectors."""
    return float(np.max(np.abs(weights[:, None, :] - weights[None, :, :])))


def run(output: Path, seed: int) -> Result:
    X, y = load_digits("float64")
    X_train, y_train, X_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]
    nets, numbers = {}, {}
    for init in ("zeros", "auto"):
        net = Network([64, HIDDEN, 10], "logistic", init=init, dtype="float64", seed=seed)
        net.fit(X_train, y_train, learning_rate=0.05, max_epochs=EPOCHS, validation_fraction=0)
        p = net.parameters()
        label = "zero" if init == "zeros" else "random"
        numbers[f"{label}_hidden_spread"] = _spread(p["weights_1"])
        numbers[f"{label}_hidden_bias_spread"] = float(np.ptp(p["biases_1"]))
        numbers[f"{label}_output_column_spread"] = _spread(p["weights_2"].T)
        numbers[f"{label}_weights_norm"] = float(np.linalg.norm(p["weights_1"]))
        numbers[f"{label}_test_accuracy"] = net.score(X_test, y_test)
        nets[label] = net
    # With tanh or ReLU, f(0) = 0 as well: no gradient reaches W⁽¹⁾ at all.
    for activation in ("tanh", "relu"):
        net = Network([64, HIDDEN, 10], activation, init="zeros", dtype="float64", seed=seed)
        net.fit(X_train, y_train, learning_rate=0.05, max_epochs=3, validation_fraction=0)
        numbers[f"{activation}_zero_init_weights_1_norm"] = float(np.linalg.norm(net.parameters()["weights_1"]))
    lines = [
        f"64-{HIDDEN}-10 logistic network on digits, {EPOCHS} epochs of SGD (α = 0.05):",
        f"  zero init:   the {HIDDEN} hidden units' weight vectors differ by at most "
        f"{numbers['zero_hidden_spread']:.1e} (‖W⁽¹⁾‖ = {numbers['zero_weights_norm']:.2f}): they learned, but all the "
        f"same thing; test accuracy {numbers['zero_test_accuracy']:.3f}",
        f"  random init: they differ by up to {numbers['random_hidden_spread']:.2f}; test accuracy "
        f"{numbers['random_test_accuracy']:.3f}",
        f"  tanh and ReLU from zero: ‖W⁽¹⁾‖ stays {numbers['tanh_zero_init_weights_1_norm']:g} and "
        f"{numbers['relu_zero_init_weights_1_norm']:g}, since f(0) = 0 leaves W⁽²⁾ without gradient and "
        "(W⁽²⁾)ᵀδ = 0",
        "Every hidden unit computes the same a = σ(0) and receives the same δ = f'(z)·(W⁽²⁾)ᵀδ⁽²⁾ when W⁽²⁾'s "
        "columns are equal, so each update keeps them equal: the layer acts as a single unit.",
    ]
    figure = new_figure(12, 3.6)
    for row, label in enumerate(("zero", "random")):
        weights = nets[label].parameters()["weights_1"]
        limit = np.abs(weights[:8]).max()
        row_axes = []
        for k in range(8):
            axis = figure.add_subplot(2, 8, row * 8 + k + 1)
            image = axis.imshow(weights[k].reshape(8, 8), cmap="RdBu_r", vmin=-limit, vmax=limit)
            axis.set_xticks([])
            axis.set_yticks([])
            row_axes.append(axis)
            if k == 0:
                axis.set_ylabel(f"{label} init", fontsize=9)
        # Each row has its own scale (the zero-init weights are much smaller): one colour bar per row.
        bar = figure.colorbar(image, ax=row_axes, fraction=0.02, pad=0.01)
        bar.set_label("weight", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    figure.suptitle("Exercise 4-5: incoming weights of 8 hidden units after training (8×8 pixels each)")
    return Result("zero-init", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("zero-init", "exercise 4-5: from all-zero weights hidden units stay identical; random init "
                                     "breaks it",
                        run)
