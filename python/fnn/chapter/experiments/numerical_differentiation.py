"""Numerical differentiation (4.63)-(4.64): the error of forward and central differences against
Δx, truncation error for large Δx, round-off error for small Δx."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..autodiff import central_difference, forward_difference
from ..plots import new_figure, save_figure
from .base import Experiment, Result

X0 = 1.0


def _sigma(x):
    return 1 / (1 + np.exp(-x))


def _errors(f, exact, steps, dtype):
    def g(t):  # evaluate f and the difference in the given precision
        return dtype(f(dtype(t)))

    forward = np.array([abs(float((g(X0 + h) - g(X0)) / dtype(h)) - exact) for h in steps])
    central = np.array([abs(float((g(X0 + h) - g(X0 - h)) / dtype(2 * h)) - exact) for h in steps])
    return forward, central


def run(output: Path, seed: int) -> Result:
    exact = float(_sigma(X0) * (1 - _sigma(X0)))  # σ'(1), table 4.2
    steps = np.logspace(-15, -0.5, 146)
    forward, central = _errors(_sigma, exact, steps, np.float64)
    forward32, central32 = _errors(_sigma, exact, steps, np.float32)
    # The float64 functions of fnn.chapter.autodiff give the same numbers as the loop above.
    assert forward_difference(_sigma, X0, 1e-3) == (_sigma(X0 + 1e-3) - _sigma(X0)) / 1e-3
    assert central_difference(_sigma, X0, 1e-3) == (_sigma(X0 + 1e-3) - _sigma(X0 - 1e-3)) / 2e-3

    def slope(errors, low, high):  # fitted order of the error in the truncation regime
        chosen = (steps >= low) & (steps <= high)
        return float(np.polyfit(np.log10(steps[chosen]), np.log10(errors[chosen]), 1)[0])

    numbers = {
        "forward_best_step": float(steps[np.argmin(forward)]), "forward_best_error": float(forward.min()),
        "central_best_step": float(steps[np.argmin(central)]), "central_best_error": float(central.min()),
        "forward_truncation_order": slope(forward, 1e-4, 1e-1), "central_truncation_order": slope(central, 1e-3, 1e-1),
        "forward_error_at_1e-14": float(forward[np.argmin(np.abs(steps - 1e-14))]),
        "float32_central_best_step": float(steps[np.argmin(central32)]),
    }
    lines = [
        f"f(x) = σ(x) at x = {X0}: f'(x) = {exact:.15f}",
        f"forward difference (4.63): error ∝ Δx^{numbers['forward_truncation_order']:.2f} for large Δx; best "
        f"{numbers['forward_best_error']:.1e} at Δx ≈ {numbers['forward_best_step']:.0e}",
        f"central difference (4.64): error ∝ Δx^{numbers['central_truncation_order']:.2f} for large Δx; best "
        f"{numbers['central_best_error']:.1e} at Δx ≈ {numbers['central_best_step']:.0e}",
        f"below the best Δx round-off takes over: at Δx = 1e-14 the forward difference errs by "
        f"{numbers['forward_error_at_1e-14']:.1e}; in float32 the best central Δx is already "
        f"≈ {numbers['float32_central_best_step']:.0e}",
    ]
    figure = new_figure(7, 4.5)
    axis = figure.add_subplot()
    axis.loglog(steps, forward, label="forward difference (4.63), float64")
    axis.loglog(steps, central, label="central difference (4.64), float64")
    axis.loglog(steps, central32, label="central difference, float32", alpha=0.6)
    axis.loglog(steps, steps * abs(exact * (1 - 2 * _sigma(X0))) / 2, "k:", linewidth=1, label="truncation Δx·|f''|/2")
    axis.loglog(steps, np.finfo(np.float64).eps * _sigma(X0) / steps, "k--", linewidth=1, label="round-off ε·|f|/Δx")
    axis.set_ylim(1e-13, 1)
    axis.set_xlabel("Δx")
    axis.set_ylabel("|numerical − exact derivative|")
    axis.set_title("Numerical differentiation of σ at x = 1")
    axis.legend(fontsize=8)
    return Result("numerical-differentiation", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("numerical-differentiation",
                        "forward vs central differences: truncation vs round-off error against Δx (4.63)-(4.64)", run)
