"""Figures written as PNG files with matplotlib's Agg canvas (no display, no global pyplot state)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from ..core.history import History
from .._extras import import_optional


def new_figure(width: float = 6.4, height: float = 4.0):
    """A matplotlib Figure drawn by the Agg canvas, independent of any pyplot backend."""
    FigureCanvasAgg = import_optional("matplotlib.backends.backend_agg", "drawing figures").FigureCanvasAgg
    Figure = import_optional("matplotlib.figure", "drawing figures").Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure, path: Union[str, Path]) -> Path:
    path = Path(path)
    figure.savefig(path, format="png", bbox_inches="tight")
    return path


def learning_curve(history: History, path: Union[str, Path], title: Optional[str] = None,
                   error_label: str = "validation error rate", error_is_loss: bool = False) -> Path:
    """Training risk and validation error of every epoch, the best epoch marked, as a PNG.

    A validation error rate has its own axis on the right; a validation loss (`error_is_loss`,
    the regressor's) is in the risk's unit and shares its axis."""
    figure = new_figure()
    risk_axis = figure.add_subplot()
    epochs = range(1, history.n_epochs + 1)
    risk_axis.plot(epochs, history.train_risk, color="tab:blue", label="training risk (4.39)")
    risk_axis.set_xlabel("epoch")
    risk_axis.set_ylabel("training risk", color="tab:blue")
    lines = risk_axis.get_lines()
    if history.validation_error and error_is_loss:
        lines = lines + risk_axis.plot(epochs, history.validation_error, color="tab:orange", label=error_label)
        risk_axis.set_ylabel("training risk and validation loss (½‖y − ŷ‖²)", color="black")
    elif history.validation_error:
        error_axis = risk_axis.twinx()
        error_axis.plot(epochs, history.validation_error, color="tab:orange", label=error_label)
        error_axis.set_ylabel(error_label, color="tab:orange")
        lines = lines + error_axis.get_lines()
    if history.best_epoch:
        marker = risk_axis.axvline(history.best_epoch, color="grey", linestyle="--",
                                   label=f"best epoch ({history.best_epoch})")
        lines = lines + [marker]
    risk_axis.legend(lines, [line.get_label() for line in lines], loc="upper right")
    risk_axis.set_title(title or "learning curve")
    return save_figure(figure, path)
