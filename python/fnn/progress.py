"""Per-epoch progress on the terminal: a bar redrawn in place on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import Optional, TextIO

from .history import History


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


class EpochProgress:
    """A ``fit`` callback printing epoch, training risk, validation error, samples/s and ETA.

    The ETA assumes every remaining epoch up to ``max_epochs`` runs; early stopping may end
    sooner. On a terminal the line is redrawn in place; otherwise (a file, a pipe, CI logs) each
    epoch gets its own line, so the output stays readable.
    """

    def __init__(self, max_epochs: int, n_samples: int, stream: Optional[TextIO] = None, width: int = 24):
        self.max_epochs = max_epochs
        self.n_samples = n_samples
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn = False

    def line(self, history: History) -> str:
        epoch = history.n_epochs
        spent = history.total_time
        rate = self.n_samples * epoch / spent if spent > 0 else float("inf")
        eta = spent / epoch * (self.max_epochs - epoch)
        parts = [f"epoch {epoch:>{len(str(self.max_epochs))}}/{self.max_epochs}"]
        if self.interactive:
            filled = int(self.width * epoch / self.max_epochs)
            parts.append("[" + "#" * filled + "." * (self.width - filled) + "]")
        parts.append(f"risk {history.train_risk[-1]:.4f}")
        if history.validation_error:
            parts.append(f"val error {history.validation_error[-1]:.4f}")
        parts.append(f"{rate:,.0f} samples/s")
        parts.append(f"ETA {_duration(eta)}")
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
