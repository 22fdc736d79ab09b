"""Algorithm 4.1, line 13: stop when the validation error rate no longer falls."""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np


class EarlyStopping:
    """Tracks a validation score (lower is better) and keeps a copy of the best parameters.

    Parameters
    ----------
    patience : int
        Stop after this many epochs in a row without an improvement.
    tol : float
        An epoch improves on the best only if its score is below ``best - tol``.
    """

    def __init__(self, patience: int, tol: float = 0.0):
        self.patience = patience
        self.tol = tol
        self.best_score = np.inf
        self.best_epoch: Optional[int] = None
        self.epochs_without_improvement = 0
        self._best: Dict[str, np.ndarray] = {}

    def update(self, score: float, epoch: int, parameters: Dict[str, np.ndarray]) -> bool:
        """Record the score of `epoch` (1-based); return True when training should stop."""
        if score < self.best_score - self.tol:
            self.best_score = score
            self.best_epoch = epoch
            self.epochs_without_improvement = 0
            for name, array in parameters.items():
                if name in self._best:
                    np.copyto(self._best[name], array)
                else:
                    self._best[name] = array.copy()
            return False
        self.epochs_without_improvement += 1
        return self.epochs_without_improvement >= self.patience

    def restore(self, parameters: Dict[str, np.ndarray]) -> None:
        """Write the best parameters back into `parameters`, in place."""
        for name, array in self._best.items():
            np.copyto(parameters[name], array)
