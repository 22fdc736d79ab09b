"""Exercise 4-1: a logistic neuron σ(wᵀx + b) trained by gradient descent converges more slowly
when its inputs are all positive than when they are centred on zero."""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np

from ...network import Network
from ..plots import new_figure, save_figure
from .base import Experiment, Result

OFFSETS = (0.0, 1.0, 2.0, 4.0)
EPOCHS = 2000
GAP = 2e-3
SETTINGS = {"gradient descent (batch = n, α = 0.5)": (None, 0.5), "SGD (batch 1, α = 0.01)": (1, 0.01)}


def _data(seed: int):
    rng = np.random.default_rng(seed)
    centred = rng.uniform(-1, 1, size=(400, 2))
    p = 1 / (1 + np.exp(-(3 * centred[:, 0] + 1.5 * centred[:, 1])))
    return centred, (rng.uniform(size=400) < p).astype(np.int64)


def _neuron() -> Network:
    return Network([2, 1], output="logistic", dtype="float64", init="zeros", seed=0)


def run(output: Path, seed: int) -> Result:
    centred, y = _data(seed)
    # Shifting x by a constant changes only b at the optimum: every offset has the same least risk R*.
    best = _neuron()
    best.fit(centred, y, learning_rate=1.0, batch_size=len(y), max_epochs=20000, validation_fraction=0)
    least = best.risk(centred, y)
    gaps, paths, numbers = {}, {}, {}
    for label, (batch, rate) in SETTINGS.items():
        for offset in OFFSETS:
            net = _neuron()
            X = centred + offset
            path: List[np.ndarray] = []
            risks: List[float] = []

            def record(history, net=net, X=X, path=path, risks=risks):
                # The risk at the end of each epoch (the history's is averaged over the epoch's steps).
                path.append(net.parameters()["weights_1"][0].copy())
                risks.append(net.risk(X, y))

            net.fit(X, y, learning_rate=rate, batch_size=batch or len(y), max_epochs=EPOCHS, validation_fraction=0,
                    callback=record)
            gap = np.array(risks) - least
            gaps[label, offset] = gap
            paths[label, offset] = np.array(path)
            reached = np.flatnonzero(gap < GAP)
            key = "gd" if batch is None else "sgd"
            numbers[f"{key}_epochs_offset_{offset:g}"] = float(reached[0] + 1) if reached.size else float("inf")
    lines = [f"inputs x ∈ [−1, 1]² + offset; epochs until the risk is within {GAP:g} of the least risk "
             f"R* = {least:.4f} (at most {EPOCHS}):",
             "offset                                   " + "".join(f"{o:>8g}" for o in OFFSETS)]
    for label, (batch, _) in SETTINGS.items():
        key = "gd" if batch is None else "sgd"
        lines.append(f"{label:<41}" + "".join(f"{numbers[f'{key}_epochs_offset_{o:g}']:>8g}" for o in OFFSETS))
    lines.append("∂L/∂w = δ·x: when every x > 0, all components of a sample's gradient share δ's sign, so w can move "
                 "only towards (+,+) or (−,−) and zig-zags to an optimum that needs another direction; the offset "
                 "also makes the risk's curvature lopsided, so one step size cannot suit every direction.")

    figure = new_figure(15, 4.5)
    axes = figure.subplots(1, 3)
    for axis, label in zip(axes[:2], SETTINGS):
        for offset in OFFSETS:
            axis.semilogy(np.maximum(gaps[label, offset], 1e-8), label=f"x ∈ [{offset - 1:g}, {offset + 1:g}]²")
        axis.axhline(GAP, color="grey", linestyle=":")
        axis.set_xlabel("epoch")
        axis.set_ylabel("R − R*")
        axis.set_title(label)
        axis.legend(fontsize=8)
    label = "SGD (batch 1, α = 0.01)"
    for offset in (0.0, 2.0):
        walk = np.asarray(paths[label, offset])
        axes[2].plot(walk[:300, 0], walk[:300, 1], marker=".", markersize=3, label=f"offset {offset:g}")
    weights = best.parameters()["weights_1"][0]
    axes[2].plot(*weights, "k*", markersize=12, label="optimum w*")
    axes[2].set_xlabel("w₁")
    axes[2].set_ylabel("w₂")
    axes[2].set_title("w after each of the first 300 SGD epochs")
    axes[2].legend(fontsize=8)
    figure.suptitle("Exercise 4-1: positive vs zero-centred inputs of a logistic neuron")
    return Result("zero-centred", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("zero-centred", "exercise 4-1: a logistic neuron learns slower on all-positive inputs", run)
