"""Exercise 4-3: with the total number of neurons N fixed and L layers, each of the L − 1 hidden
layers having (N − 1)/(L − 1) neurons (the last neuron is the output), how does the number of
parameters depend on L?"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...network import Network
from ..plots import new_figure, save_figure
from .base import Experiment, Result

N = 361          # neurons in all: 360 hidden, 1 output
INPUTS = 10      # m⁽⁰⁾


def parameters(L: int, n: int = N, d: int = INPUTS) -> int:
    """Weights and biases of L layers: L − 1 hidden layers of m = (N − 1)/(L − 1) and one output.

    P(L) = d·m + (L − 2)·m² + m (weights) + N (biases), which for large N is about
    (N − 1)²(L − 2)/(L − 1)²: largest at L = 3 and falling like N²/L beyond.
    """
    m = (n - 1) // (L - 1)
    return d * m + (L - 2) * m * m + m + n


def run(output: Path, seed: int) -> Result:
    depths = [L for L in range(2, N + 1) if (N - 1) % (L - 1) == 0]
    formula = [parameters(L) for L in depths]
    built = [Network([INPUTS] + [(N - 1) // (L - 1)] * (L - 1) + [1], "relu", "logistic", seed=seed,
                     init="zeros").n_parameters for L in depths if L <= 61]
    best = depths[int(np.argmax(formula))]
    numbers = {"best_depth": float(best), "max_parameters": float(max(formula)),
               "formula_matches_networks": float(formula[:len(built)] == built)}
    numbers.update({f"parameters_L{L}": float(P) for L, P in zip(depths, formula)})
    lines = [f"N = {N} neurons (1 output), inputs d = {INPUTS}; hidden width m = (N − 1)/(L − 1)",
             "L   m    parameters (counted by fnn.Network for L ≤ 61)"]
    for L, P in zip(depths, formula):
        lines.append(f"{L:<3d} {(N - 1) // (L - 1):<4d} {P}")
    lines.append(f"P(L) = d·m + (L − 2)·m² + m + N ≈ (N − 1)²(L − 2)/(L − 1)²: most parameters at L = {best} "
                 f"({max(formula):,}); deeper networks of the same N have fewer, about N²/L.")
    figure = new_figure(7, 4.5)
    axis = figure.add_subplot()
    axis.plot(depths, formula, marker="o", label="P(L) formula")
    axis.plot(depths[:len(built)], built, "x", markersize=9, label="fnn.Network(...).n_parameters")
    depth = np.linspace(2, max(depths), 400)
    axis.plot(depth, (N - 1) ** 2 * (depth - 2) / (depth - 1) ** 2, "k:", label="(N − 1)²(L − 2)/(L − 1)²")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("layers L")
    axis.set_ylabel("parameters")
    axis.set_title(f"Exercise 4-3: parameters against depth, N = {N} neurons")
    axis.legend(fontsize=8)
    return Result("depth", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("depth", "exercise 4-3: parameter count against depth L for a fixed number of neurons N", run)
