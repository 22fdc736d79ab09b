"""Exercise 4-2: a network with two hidden ReLU units and one output solves XOR."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...io.datasets import make_xor
from ...network import Network
from ..plots import new_figure, save_figure
from .base import Experiment, Result

SEEDS = 20


def hand_made() -> Network:
    """h = ReLU(x₁ + x₂, x₁ + x₂ − 1); h₁ − 2h₂ is exactly x₁ XOR x₂; the logistic output unit
    σ(10(h₁ − 2h₂) − 5) turns it into probabilities σ(±5)."""
    net = Network([2, 2, 1], "relu", "logistic", dtype="float64", init="zeros")
    p = net.parameters()
    p["weights_1"][...] = [[1, 1], [1, 1]]
    p["biases_1"][...] = [0, -1]
    p["weights_2"][...] = [[10, -20]]
    p["biases_2"][...] = [-5]
    return net


def run(output: Path, seed: int) -> Result:
    X, y = make_xor()
    exact = hand_made()
    p = exact.parameters()
    hidden = np.maximum(0, X @ p["weights_1"].T + p["biases_1"])
    linear = hidden @ np.array([1.0, -2.0])
    solved, correct, dead, first = [], [], [], None
    for s in range(seed, seed + SEEDS):
        net = Network([2, 2, 1], "relu", "logistic", dtype="float64", seed=s)
        net.fit(X, y, learning_rate=0.1, max_epochs=2000, validation_fraction=0)
        ok = bool(np.array_equal(net.predict(X), y))
        solved.append(ok)
        correct.append(int(np.sum(net.predict(X) == y)))
        q = net.parameters()
        dead.append(bool(np.any(np.all(X @ q["weights_1"].T + q["biases_1"] <= 0, axis=0))))
        if ok and first is None:
            first = (s, net)
    failed = [k for k, ok in enumerate(solved) if not ok]
    numbers = {"hand_made_accuracy": exact.score(X, y),
               "hand_made_linear_output_error": float(np.max(np.abs(linear - y))),
               "learned_solved_share": float(np.mean(solved)),
               "failed_with_dead_unit": float(sum(dead[k] for k in failed)),
               "learned_accuracy": first[1].score(X, y) if first else 0.0,
               "first_solving_seed": float(first[0]) if first else float("nan")}
    lines = [
        "hand-made: h = ReLU([1 1; 1 1]x + [0, −1]), z = 10(h₁ − 2h₂) − 5",
        f"  h₁ − 2h₂ on (0,0), (0,1), (1,0), (1,1) = {linear.tolist()} (exactly XOR); probabilities "
        f"{np.round(exact.forward(X)[:, 0], 4).tolist()}; accuracy {numbers['hand_made_accuracy']:.0%}",
        f"learned by SGD (α = 0.1, 2000 epochs): {sum(solved)} of {SEEDS} random starts (seeds "
        f"{seed}…{seed + SEEDS - 1}) "
        f"solve it; of the {len(failed)} others, {sum(correct[k] == 3 for k in failed)} end with 3 of 4 points right "
        f"and {sum(dead[k] for k in failed)} have a dead hidden unit (z ≤ 0 on all four points): with only two "
        "units there is no spare",
    ]
    if first:
        q = first[1].parameters()
        lines.append(f"  seed {first[0]}: W⁽¹⁾ = {np.round(q['weights_1'], 2).tolist()}, b⁽¹⁾ = "
                     f"{np.round(q['biases_1'], 2).tolist()}, W⁽²⁾ = {np.round(q['weights_2'], 2).tolist()}, "
                     f"b⁽²⁾ = {np.round(q['biases_2'], 2).tolist()}")
    figure = new_figure(10, 4.5)
    grid = np.linspace(-0.5, 1.5, 301)
    gx, gy = np.meshgrid(grid, grid)
    points = np.c_[gx.ravel(), gy.ravel()]
    for k, (title, shown) in enumerate((("hand-made solution", exact),
                                        (f"learned (seed {first[0]})" if first else "no start solved it",
                                         first[1] if first else None))):
        axis = figure.add_subplot(1, 2, k + 1)
        if shown is not None:
            probability = shown.forward(points)[:, 0].reshape(gx.shape)
            axis.contourf(gx, gy, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
            axis.contour(gx, gy, probability, levels=[0.5], colors="black")
        axis.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolors="black", s=120, vmin=0, vmax=1)
        axis.set_title(f"{title}: p(y = 1|x)")
        axis.set_xlabel("x₁")
        axis.set_ylabel("x₂")
    figure.suptitle("XOR with two hidden ReLU units (exercise 4-2)")
    return Result("xor", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("xor", "exercise 4-2: two hidden ReLU units solve XOR, by hand and by SGD", run)
