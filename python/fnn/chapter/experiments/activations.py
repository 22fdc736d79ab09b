"""Every activation of section 4.1 and its derivative (figures 4.2-4.4, 4.10), and table 4.2
checked numerically against the engine's C++ code."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core import activations as act
from ..plots import new_figure, save_figure
from .base import Experiment, Result


def _sigma(x):
    return 1 / (1 + np.exp(-x))


# The chapter's formulas, written independently of the engine: (f, f') for each activation.
FORMULAS = {
    "logistic": (act.Logistic(), _sigma, lambda x: _sigma(x) * (1 - _sigma(x))),
    "tanh": (act.Tanh(), lambda x: 2 / (1 + np.exp(-2 * x)) - 1, lambda x: 1 - (2 / (1 + np.exp(-2 * x)) - 1) ** 2),
    "hard_logistic": (act.HardLogistic(), lambda x: np.clip(0.25 * x + 0.5, 0, 1),
                      lambda x: np.where(np.abs(x) < 2, 0.25, 0.0)),
    "hard_tanh": (act.HardTanh(), lambda x: np.clip(x, -1, 1), lambda x: np.where(np.abs(x) < 1, 1.0, 0.0)),
    "relu": (act.ReLU(), lambda x: np.maximum(0, x), lambda x: (x > 0).astype(float)),
    "leaky_relu (γ=0.1)": (act.LeakyReLU(0.1), lambda x: np.maximum(0, x) + 0.1 * np.minimum(0, x),
                           lambda x: np.where(x > 0, 1.0, 0.1)),
    "elu (γ=1)": (act.ELU(1.0), lambda x: np.maximum(0, x) + np.minimum(0, np.exp(x) - 1),
                  lambda x: (x > 0) + (x <= 0) * np.exp(x)),
    "softplus": (act.Softplus(), lambda x: np.log(1 + np.exp(x)), _sigma),
}
KINKS = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])


def run(output: Path, seed: int) -> Result:
    x = np.linspace(-6, 6, 2401)
    smooth = x[np.min(np.abs(x[:, None] - KINKS[None, :]), axis=1) > 1e-3]  # central differences skip kinks
    numbers, lines = {}, ["activation            max|f − formula|  max|f' − formula'|  max|f' − central difference|"]
    for name, (f, value, derivative) in FORMULAS.items():
        h = 1e-6
        value_error = float(np.max(np.abs(f(x) - value(x))))
        derivative_error = float(np.max(np.abs(f.derivative(x) - derivative(x))))
        numeric_error = float(np.max(np.abs(f.derivative(smooth) - (f(smooth + h) - f(smooth - h)) / (2 * h))))
        key = name.split()[0]
        numbers[f"{key}_value_error"] = value_error
        numbers[f"{key}_derivative_error"] = derivative_error
        numbers[f"{key}_numeric_derivative_error"] = numeric_error
        lines.append(f"{name:<20}  {value_error:16.2e}  {derivative_error:18.2e}  {numeric_error:28.2e}")
    logistic_slope, tanh_slope = act.Logistic().derivative(x), act.Tanh().derivative(x)
    numbers["logistic_derivative_max"] = float(logistic_slope.max())
    numbers["tanh_derivative_max"] = float(tanh_slope.max())
    numbers["tanh_identity_error"] = float(np.max(np.abs(act.Tanh()(x) - (2 * act.Logistic()(2 * x) - 1))))
    lines.append(f"σ'(x) ∈ [0, {numbers['logistic_derivative_max']:g}] (4.86), tanh'(x) ∈ [0, "
                 f"{numbers['tanh_derivative_max']:g}] (4.87), both at x = 0")
    lines.append(f"tanh(x) = 2σ(2x) − 1 (4.6): max error {numbers['tanh_identity_error']:.1e}")
    maxout = act.Maxout(3)
    pieces = np.stack([x, -x, 0.5 * x + 1], axis=-1)
    numbers["maxout_is_max_of_pieces"] = float(np.max(np.abs(maxout(pieces) - pieces.max(axis=-1))))

    figure = new_figure(13, 7.5)
    panels = figure.subplots(2, 3)
    plot_x = np.linspace(-4, 4, 801)

    def draw(axis, title, names, derivative=False):
        for name in names:
            f = FORMULAS[name][0]
            axis.plot(plot_x, f.derivative(plot_x) if derivative else f(plot_x), label=name)
        axis.axhline(0, color="grey", linewidth=0.5)
        axis.axvline(0, color="grey", linewidth=0.5)
        axis.set_title(title)
        axis.set_xlabel("net input z")
        axis.set_ylabel("derivative f′(z)" if derivative else "activation f(z)")
        axis.legend(fontsize=8)

    draw(panels[0, 0], "sigmoid-type (fig. 4.2)", ["logistic", "tanh"])
    draw(panels[0, 1], "hard sigmoid-type (fig. 4.3)", ["logistic", "hard_logistic", "tanh", "hard_tanh"])
    draw(panels[0, 2], "ReLU family (fig. 4.4)", ["relu", "leaky_relu (γ=0.1)", "elu (γ=1)", "softplus"])
    draw(panels[1, 0], "derivatives, sigmoid-type (fig. 4.10)", ["logistic", "tanh"], derivative=True)
    draw(panels[1, 1], "derivatives, hard sigmoid-type", ["hard_logistic", "hard_tanh"], derivative=True)
    draw(panels[1, 2], "derivatives, ReLU family", ["relu", "leaky_relu (γ=0.1)", "elu (γ=1)", "softplus"],
         derivative=True)
    figure.suptitle("Activation functions of section 4.1 (computed by fnn's C++ engine)")
    return Result("activations", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("activations", "every activation and its derivative (figs 4.2-4.4, 4.10), table 4.2 checked",
                        run)
