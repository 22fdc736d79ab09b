"""Per-epoch progress on the terminal: a bar redrawn in place on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import Optional, TextIO

from ..core.history import History


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _best_epoch(history: History) -> int:
    """The epoch early stopping holds as best so far: the lowest validation score, ties broken by
    the validation loss (fnn.training.early_stopping)."""
    best, key = 1, None
    losses = history.validation_loss or [0.0] * len(history.validation_error)
    for epoch, (error, loss) in enumerate(zip(history.validation_error, losses), 1):
        if key is None or error < key[0] or (error == key[0] and loss < key[1]):
            best, key = epoch, (error, loss)
    return best


class EpochProgress:
    """A ``fit`` callback printing epoch, training risk, validation error, samples/s and ETA.

    With early stopping (``patience`` given and validation scores in the history) the ETA is a
    range: to the epoch at which training stops if the validation score does not improve again
    (the best epoch so far + ``patience``), and to ``max_epochs``; otherwise to ``max_epochs``.
    On a terminal the line is redrawn in place; otherwise (a file, a pipe, CI logs) each
    epoch gets its own line, so the output stays readable.
    """

    def __init__(self, max_epochs: int, n_samples: int, stream: Optional[TextIO] = None, width: int = 24,
                 patience: Optional[int] = None):
        self.max_epochs = max_epochs
        self.patience = patience
        self.n_samples = n_samples
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn = False

    def line(self, history: History) -> str:
        epoch = history.n_epochs
        spent = history.total_time
        rate = self.n_samples * epoch / spent if spent > 0 else float("inf")
        per_epoch = spent / epoch
        eta = _duration(per_epoch * (self.max_epochs - epoch))
        if self.patience is not None and history.validation_error:
            stop = min(self.max_epochs, _best_epoch(history) + self.patience)
            if stop < self.max_epochs:
                eta = f"{_duration(per_epoch * (stop - epoch))}–{eta}"
        parts = [f"epoch {epoch:>{len(str(self.max_epochs))}}/{self.max_epochs}"]
        if self.interactive:
            filled = int(self.width * epoch / self.max_epochs)
            parts.append("[" + "#" * filled + "." * (self.width - filled) + "]")
        parts.append(f"risk {history.train_risk[-1]:.4f}")
        if history.validation_error:
            parts.append(f"val error {history.validation_error[-1]:.4f}")
        parts.append(f"{rate:,.0f} samples/s")
        parts.append(f"ETA {eta}")
        return "  ".join(parts)

    def __call__(self, history: History) -> None:
        text = self.line(history)
        if self.interactive:
            self.stream.write("\r\033[K" + text)
            self._drawn = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line (call once training is over)."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
