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

    On a small validation set the error rate takes few values and ties often: an epoch whose
    score ties the best (within ``tol``, and at least within TIE, so that weighted error rates
    differing by a sample of negligible weight tie) but whose validation loss is lower by more
    than ``tol`` also counts as an improvement, so training is not stopped at the first epoch
    that reached a lucky error rate (nor kept going by a loss that creeps down forever).
    """

    #: Scores this close count as tied, whatever ``tol``: an unweighted validation set of fewer
    #: than a million samples has error rates at least 1e-6 apart.
    TIE = 1e-6

    def __init__(self, patience: int, tol: float = 0.0):
        self.patience = patience
        self.tol = tol
        self.best_score = np.inf
        self.best_loss = np.inf
        self.best_epoch: Optional[int] = None
        self.epochs_without_improvement = 0
        self._best: Dict[str, np.ndarray] = {}

    def update(self, score: float, epoch: int, parameters: Dict[str, np.ndarray], loss: float = np.inf) -> bool:
        """Record the score (and validation loss) of `epoch` (1-based); return True when
        training should stop."""
        better = score < self.best_score - self.tol
        tie = not better and score <= self.best_score + max(self.tol, self.TIE) and loss < self.best_loss - self.tol
        if better or tie:
            self.best_score = min(score, self.best_score) if tie else score
            self.best_loss = loss
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
