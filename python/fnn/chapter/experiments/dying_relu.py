"""The dying ReLU problem (section 4.1.2): after one oversized update many ReLU units output 0
for every input and, with f'(z) = 0 there, never learn again; Leaky ReLU and ELU keep a gradient
on the negative side, so their silenced units can come back, the faster the larger γ."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np

from ...core.activations import ELU, ActivationLike, LeakyReLU
from ...io.datasets import load_digits
from ...network import Network
from ..plots import new_figure, save_figure
from .base import Experiment, Result

HIDDEN = 64
BIG_STEP = 200.0
RECOVERY_EPOCHS = 30
KINDS: Dict[str, ActivationLike] = {"ReLU": "relu", "Leaky ReLU γ=0.01": LeakyReLU(0.01),
                                    "Leaky ReLU γ=0.3": LeakyReLU(0.3), "ELU γ=1": ELU(1.0)}


def _net_inputs(net: Network, X: np.ndarray) -> np.ndarray:
    p = net.parameters()
    return X @ p["weights_1"].T + p["biases_1"]


def dead_share(net: Network, X: np.ndarray) -> float:
    """Share of hidden units with f'(z) = 0 on every sample: no gradient can ever reach them."""
    return float(np.mean(np.all(net.activations[0].derivative(_net_inputs(net, X)) == 0, axis=0)))


def silent_share(net: Network, X: np.ndarray) -> float:
    """Share of hidden units with z ≤ 0 on every sample (for ReLU the same as dead)."""
    return float(np.mean(np.all(_net_inputs(net, X) <= 0, axis=0)))


def run(output: Path, seed: int) -> Result:
    X, y = load_digits("float64")
    X_train, y_train, X_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]
    numbers, curves = {}, {}
    lines = [f"64-{HIDDEN}-10 network on digits: 3 epochs of SGD (α = 0.05), one oversized step (a mini-batch of 64 "
             f"with α = {BIG_STEP:g}), then {RECOVERY_EPOCHS} epochs of SGD (α = 0.05):",
             f"{'':<19} {'dead after step':>16} {'silent after step':>18} {'silent at the end':>18} "
             f"{'dead at the end':>16} "
             f"{'test accuracy':>14}"]
    for label, activation in KINDS.items():
        net = Network([64, HIDDEN, 10], activation, dtype="float64", seed=seed)
        net.fit(X_train, y_train, learning_rate=0.05, max_epochs=3, validation_fraction=0)
        silent_before = silent_share(net, X_train)
        net.fit(X_train[:64], y_train[:64], learning_rate=BIG_STEP, batch_size=64, max_epochs=1, validation_fraction=0)
        dead, silent = dead_share(net, X_train), silent_share(net, X_train)
        curve = [silent]

        def record(history, n=net, c=curve):
            c.append(silent_share(n, X_train))

        net.fit(X_train, y_train, learning_rate=0.05, max_epochs=RECOVERY_EPOCHS, validation_fraction=0,
                callback=record)
        curves[label] = curve
        key = label.lower().replace(" ", "_").replace("γ=", "")
        numbers.update({f"{key}_silent_before": silent_before, f"{key}_dead_after_step": dead,
                        f"{key}_silent_after_step": silent, f"{key}_silent_at_end": curve[-1],
                        f"{key}_dead_at_end": dead_share(net, X_train),
                        f"{key}_test_accuracy": net.score(X_test, y_test)})
        lines.append(f"{label:<19} {dead:>16.0%} {silent:>18.0%} {curve[-1]:>18.0%} "
                     f"{numbers[f'{key}_dead_at_end']:>16.0%} "
                     f"{numbers[f'{key}_test_accuracy']:>14.3f}")
    lines.append("A dead ReLU unit has z ≤ 0 for every input, so f'(z) = 0 and no gradient reaches its weights again. "
                 "Leaky ReLU (f' = γ) and ELU (f' = γeᶻ) are never dead, but what they pass back is small: γ = 0.01 "
                 "brings silenced units back too slowly to see here, and ELU's γeᶻ vanishes for z far below 0; "
                 "Leaky ReLU with γ = 0.3 recovers.")
    figure = new_figure(7, 4.5)
    axis = figure.add_subplot()
    # Curves can coincide (ReLU and ELU both stay near 1): wider lines underneath, distinct markers
    # and dashes, so every curve stays visible.
    styles = [("-", "o", 5.0), ("--", "s", 3.5), ("-.", "^", 2.2), (":", "x", 1.5)]
    for (label, curve), (dashes, marker, width) in zip(curves.items(), styles):
        axis.plot(range(len(curve)), curve, linestyle=dashes, marker=marker, markersize=4, linewidth=width,
                  alpha=0.85, label=label)
    axis.set_xlabel("epochs after the oversized step")
    axis.set_ylabel("share of hidden units with z ≤ 0 on every sample")
    axis.set_ylim(0, 1)
    axis.set_title("Dying ReLU: silenced units after one oversized update")
    axis.legend(fontsize=8)
    return Result("dying-relu", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("dying-relu", "share of ReLU units dead after an oversized update, vs Leaky ReLU and ELU "
                                      "(4.1.2)",
                        run)
