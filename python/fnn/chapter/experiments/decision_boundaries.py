"""Decision regions on 2-D data sets for several activations and depths, in the spirit of the
TensorFlow playground that section 4.7 recommends."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..._extras import import_optional
from ...network import Network
from ..plots import new_figure, save_figure
from .base import Experiment, Result

ACTIVATIONS = ("logistic", "tanh", "relu")
DEPTHS = (1, 3)  # hidden layers of 16 units
EPOCHS = 400


def xor_data(rng, n=200):
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)


def circles_data(rng, n=300, noise=0.1):
    radius = np.where(np.arange(n) < n // 2, 1.0, 0.5)
    angle = rng.uniform(0, 2 * np.pi, size=n)
    X = np.c_[radius * np.cos(angle), radius * np.sin(angle)] + rng.normal(scale=noise, size=(n, 2))
    return X, (np.arange(n) >= n // 2).astype(np.int64)


def spirals_data(rng, n=150, noise=0.05):
    """Two interleaved spirals of 1.5 turns, scaled to about [−2, 2]²."""
    t = np.sqrt(rng.uniform(size=n)) * 3 * np.pi
    arm = np.c_[t * np.cos(t), t * np.sin(t)] * (2 / (3 * np.pi))
    X = np.vstack([arm, -arm]) + rng.normal(scale=noise, size=(2 * n, 2))
    return X, np.repeat([0, 1], n).astype(np.int64)


def run(output: Path, seed: int) -> Result:
    rng = np.random.default_rng(seed)
    datasets = {"XOR": xor_data(rng), "circles": circles_data(rng), "two spirals": spirals_data(rng)}
    numbers, lines = {}, [f"training accuracy after {EPOCHS} epochs of SGD (α = 0.05), hidden layers of 16 units:",
                          "data set      " + "".join(f"{a + ' ×' + str(d):>13}" for a in ACTIVATIONS for d in DEPTHS)]
    figure = new_figure(3 * len(ACTIVATIONS) * len(DEPTHS), 3 * len(datasets))
    panel = 0
    for name, (X, y) in datasets.items():
        row = []
        extent = np.abs(X).max() * 1.1
        grid = np.linspace(-extent, extent, 150)
        gx, gy = np.meshgrid(grid, grid)
        points = np.c_[gx.ravel(), gy.ravel()]
        for activation in ACTIVATIONS:
            for depth in DEPTHS:
                net = Network([2] + [16] * depth + [2], activation, seed=seed)
                net.fit(X, y, learning_rate=0.05, max_epochs=EPOCHS, validation_fraction=0)
                accuracy = net.score(X, y)
                key = f"{name.replace(' ', '_')}_{activation}_{depth}"
                numbers[key] = accuracy
                row.append(accuracy)
                panel += 1
                axis = figure.add_subplot(len(datasets), len(ACTIVATIONS) * len(DEPTHS), panel)
                probability = net.predict_proba(points)[:, 1].reshape(gx.shape)
                regions = axis.contourf(gx, gy, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.7)
                axis.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", s=6, edgecolors="none", vmin=0, vmax=1)
                axis.set_xticks([])
                axis.set_yticks([])
                axis.set_title(f"{name}: {activation}, {depth} hidden ({accuracy:.2f})", fontsize=8)
        lines.append(f"{name:<13} " + "".join(f"{a:>13.3f}" for a in row))
    short = [key.replace("_", " ") for key, accuracy in numbers.items() if accuracy < 0.9]
    lines.append("Every data set needs a non-linear boundary. Below 0.9 after this budget: "
                 + (", ".join(short) if short else "none")
                 + ". Three logistic layers learn slowest (vanishing gradients, 4.6.2); tanh and ReLU train the deeper "
                 "networks as well as the shallow ones.")
    # The key: which colour is which class, and what the shading between them means.
    Line2D = import_optional("matplotlib.lines", "drawing figures").Line2D

    cmap = regions.cmap
    markers = [Line2D([], [], marker="o", linestyle="", markersize=6, markerfacecolor=cmap(value),
                      markeredgecolor="none", label=f"class {label} samples") for value, label in ((0.0, 0), (1.0, 1))]
    figure.legend(handles=markers, loc="upper left", ncol=2, fontsize=9, frameon=False)
    bar = figure.colorbar(regions, ax=figure.axes, fraction=0.01, pad=0.01)
    bar.set_label("p(y = 1 | x)", fontsize=9)
    figure.suptitle("Decision regions p(y = 1|x) after training (training accuracy in brackets)")
    return Result("decision-boundaries", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("decision-boundaries", "decision regions on XOR, circles and two spirals for several "
                                               "activations "
                        "and depths", run)
