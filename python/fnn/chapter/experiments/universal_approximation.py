"""Universal approximation (4.33)-(4.34): one hidden layer of logistic units and a linear output
fit a continuous function on [0, 1], the more closely the more units there are."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np

from ...network import Network
from ..plots import new_figure, save_figure
from .base import Experiment, Result

WIDTHS = (1, 2, 4, 8, 16, 32, 64)


def target(x):
    """A continuous function on [0, 1] with a few bends."""
    return np.sin(2 * np.pi * x) + 0.5 * x * np.cos(5 * np.pi * x)


def constructed(width: int, x: np.ndarray, y: np.ndarray, seed: int) -> Network:
    """φ(x) = Σᵢ vᵢ σ(wᵢx + bᵢ) + c (4.33): steep logistic units with centres spread evenly over
    [0, 1], as in the constructive proof, and the output weights v, c by least squares."""
    net = Network([1, width, 1], "logistic", "identity", dtype="float64", seed=seed)
    p = net.parameters()
    centres = (np.arange(width) + 0.5) / width
    steepness = 4.0 * width  # each unit rises over about 1/width
    p["weights_1"][:, 0] = steepness
    p["biases_1"][:] = -steepness * centres
    hidden = 1 / (1 + np.exp(-(x @ p["weights_1"].T + p["biases_1"])))
    design = np.hstack([hidden, np.ones((len(x), 1))])
    v, *_ = np.linalg.lstsq(design, y, rcond=None)
    p["weights_2"][:] = v[:-1].T
    p["biases_2"][:] = v[-1]
    return net


def run(output: Path, seed: int) -> Result:
    x = np.linspace(0, 1, 201)[:, None]
    y = target(x)
    grid = np.linspace(0, 1, 2001)[:, None]
    truth = target(grid)
    errors: Dict[str, List[float]] = {"constructed": [], "constructed then SGD": [], "SGD from random init": []}
    curves = {}
    for width in WIDTHS:
        net = constructed(width, x, y, seed)
        errors["constructed"].append(float(np.max(np.abs(net.forward(grid) - truth))))
        net.fit(x, y, learning_rate=0.01, batch_size=1, max_epochs=300, validation_fraction=0)
        errors["constructed then SGD"].append(float(np.max(np.abs(net.forward(grid) - truth))))
        curves[width] = net.forward(grid)[:, 0]
        plain = Network([1, width, 1], "logistic", "identity", dtype="float64", seed=seed)
        plain.fit(x, y, learning_rate=0.5 / np.sqrt(width), batch_size=1, max_epochs=3000, validation_fraction=0)
        errors["SGD from random init"].append(float(np.max(np.abs(plain.forward(grid) - truth))))

    numbers = {f"max_error_{kind.replace(' ', '_')}_{w}": e for kind, es in errors.items() for w, e in zip(WIDTHS, es)}
    lines = [f"{'hidden units':<33}" + "".join(f"{w:>9d}" for w in WIDTHS)]
    for kind, es in errors.items():
        lines.append(f"max error, {kind:<22}" + "".join(f"{e:9.4f}" for e in es))
    lines.append("The construction's error falls steadily with the width; plain SGD from a random start, with the "
                 "same architecture, stalls: the theorem promises that a good network exists, not that gradient "
                 "descent finds it.")

    figure = new_figure(12, 4.5)
    left, right = figure.subplots(1, 2)
    left.plot(grid[:, 0], truth[:, 0], color="black", linewidth=2.5, label="target g(x)")
    for width in (2, 4, 8, 32):
        left.plot(grid[:, 0], curves[width], label=f"{width} logistic units")
    left.set_xlabel("x")
    left.set_title("φ(x) = Σ vᵢ σ(wᵢx + bᵢ) + c (4.33)")
    left.legend(fontsize=8)
    for kind, es in errors.items():
        right.loglog(WIDTHS, es, marker="o", label=kind)
    right.set_xlabel("hidden units")
    right.set_ylabel("max |φ(x) − g(x)| on [0, 1]")
    right.set_title("maximum error against width")
    right.legend(fontsize=8)
    return Result("universal-approximation", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("universal-approximation",
                        "one hidden logistic layer fits a continuous function; max error falls with width (4.33)",
                        run)
