"""The non-convex loss of y = σ(w₂σ(w₁x)) (4.84, figure 4.9) for the sample (x, y) = (1, 1):
squared error (1 − y)² and cross-entropy −ln y over (w₁, w₂)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...network import Network
from ..plots import new_figure, save_figure
from .base import Experiment, Result

LIMIT = 10.0


def _sigma(x):
    return 1 / (1 + np.exp(-x))


def _negative_curvature(surface: np.ndarray, step: float) -> float:
    """Share of interior grid points where the Hessian (finite differences) has a negative
    eigenvalue: a convex function has none."""
    d1, d2 = np.gradient(surface, step)
    d11, d12 = np.gradient(d1, step)
    _, d22 = np.gradient(d2, step)
    inner = (slice(2, -2), slice(2, -2))
    a, b, c = d11[inner], d12[inner], d22[inner]
    smallest = (a + c) / 2 - np.sqrt(((a - c) / 2) ** 2 + b ** 2)
    return float(np.mean(smallest < -1e-9))


def _largest_chord_gap(surface: np.ndarray, w: np.ndarray):
    """max of L(midpoint) − (L(a) + L(b))/2 over pairs a, b on the same grid row or column (≤ 0
    everywhere for a convex function), and the pair attaining it."""
    best, where = -np.inf, None
    for axis in (0, 1):
        f = np.moveaxis(surface, axis, 0)
        for d in range(1, (len(w) - 1) // 2 + 1):
            gap = f[d:-d] - (f[:-2 * d] + f[2 * d:]) / 2
            k = np.unravel_index(np.argmax(gap), gap.shape)
            if gap[k] > best:
                mid, other = k[0] + d, k[1]
                a, b = (mid - d, other), (mid + d, other)
                if axis == 1:
                    a, b = a[::-1], b[::-1]
                best = float(gap[k])
                where = tuple((round(float(w[i]), 1), round(float(w[j]), 1)) for i, j in (a, b))
    return best, where


def run(output: Path, seed: int) -> Result:
    w = np.linspace(-LIMIT, LIMIT, 201)
    w1, w2 = np.meshgrid(w, w, indexing="ij")
    y = _sigma(w2 * _sigma(w1 * 1.0))
    squared = (1 - y) ** 2
    cross_entropy = -np.log(y)  # the chapter prints "ln y"; the loss is its negative

    # The same numbers from an fnn network 1-1-1 (logistic hidden unit, logistic output, no bias).
    net = Network([1, 1, 1], "logistic", "logistic", dtype="float64", seed=seed)
    p = net.parameters()
    rng = np.random.default_rng(seed)
    worst = 0.0
    for i, j in rng.integers(0, len(w), size=(25, 2)):
        p["weights_1"][0, 0], p["weights_2"][0, 0] = w[i], w[j]
        y_net = net.forward([[1.0]])[0, 0]
        worst = max(worst, abs(y_net - y[i, j]), abs(net.risk([[1.0]], [1]) - cross_entropy[i, j]))

    step = w[1] - w[0]
    numbers = {
        "squared_error_negative_curvature_share": _negative_curvature(squared, step),
        "cross_entropy_negative_curvature_share": _negative_curvature(cross_entropy, step),
        "squared_error_min": float(squared.min()), "squared_error_max": float(squared.max()),
        "cross_entropy_min": float(cross_entropy.min()), "cross_entropy_max": float(cross_entropy.max()),
        "network_vs_formula_max_difference": worst,
    }
    # A concrete witness of non-convexity: a midpoint above the chord between two grid points.
    numbers["squared_error_chord_gap"], pair = _largest_chord_gap(squared, w)
    numbers["cross_entropy_chord_gap"], ce_pair = _largest_chord_gap(cross_entropy, w)
    lines = [
        f"on [−{LIMIT:g}, {LIMIT:g}]², the Hessian has a negative eigenvalue at "
        f"{100 * numbers['squared_error_negative_curvature_share']:.0f}% of the points for the squared error and "
        f"{100 * numbers['cross_entropy_negative_curvature_share']:.0f}% for the cross-entropy: neither is convex",
        f"squared error: between (w₁, w₂) = {pair[0]} and {pair[1]} the loss at the midpoint lies "
        f"{numbers['squared_error_chord_gap']:.3f} above the chord; cross-entropy: "
        f"{numbers['cross_entropy_chord_gap']:.3f} "
        f"between {ce_pair[0]} and {ce_pair[1]}",
        f"squared error ranges over [{numbers['squared_error_min']:.2e}, {numbers['squared_error_max']:.3f}] "
        f"with flat plateaus; cross-entropy over [{numbers['cross_entropy_min']:.2e}, "
        f"{numbers['cross_entropy_max']:.2f}]",
        f"fnn's 1-1-1 network reproduces the formula to {worst:.1e}",
    ]
    figure = new_figure(12, 5)
    for k, (surface, title) in enumerate(((squared, "squared error (1 − y)²"), (cross_entropy, "cross-entropy −ln y"))):
        axis = figure.add_subplot(1, 2, k + 1, projection="3d")
        axis.plot_surface(w1, w2, surface, cmap="viridis", rstride=4, cstride=4, linewidth=0)
        axis.set_xlabel("w₁")
        axis.set_ylabel("w₂")
        axis.set_title(title)
    figure.suptitle("Loss of y = σ(w₂σ(w₁x)) for the sample (1, 1) (4.84, fig. 4.9)")
    return Result("loss-surface", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("loss-surface", "non-convex squared-error and cross-entropy surfaces of σ(w₂σ(w₁x)) (4.84, "
                                        "fig. 4.9)",
                        run)
