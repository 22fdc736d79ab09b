"""Training that ended badly without failing: checks run after a fit, and the warning they raise.

A network can end a fit with finite weights and still have learned nothing: every prediction the
majority class (unscaled inputs, a learning rate too small or too large), or a fit cut off by
``max_epochs`` while its validation score was still improving. Each is a :class:`FitWarning`, a
scikit-learn ``ConvergenceWarning``, naming what to change. A hidden layer whose ReLU units all
output 0 for every sample (a learning rate large enough to kill them, which does not make the risk
NaN) is a failure, reported as a divergence: the model then computes a constant.
"""

from __future__ import annotations

import warnings
from typing import Dict, List, Optional

import numpy as np
from sklearn.exceptions import ConvergenceWarning


class FitWarning(ConvergenceWarning):
    """A fit that finished but learned nothing useful, or stopped before it had converged."""


def dead_layers(network, X: np.ndarray, rows: int = 512, parameters=None) -> List[int]:
    """The hidden layers (1-based) of ReLU units that output 0 for every one of up to `rows`
    samples of X (the network's own inputs), with the network's parameters or `parameters`."""
    from .activations import PReLU

    params = network.parameters() if parameters is None else parameters
    dead = []
    a = np.asarray(X[:rows], dtype=np.float64)
    for l in range(1, network.n_layers):
        f = network.layer_activation(l)
        if f.pieces > 1 or isinstance(f, PReLU):
            return dead  # learned slopes or several pieces: the layers above are not followed here
        a = f(a @ params[f"weights_{l}"].T.astype(np.float64) + params[f"biases_{l}"])
        if f.name == "relu" and not (a > 0).any():
            dead.append(l)
    return dead


def killed_in_training(network, X: np.ndarray, before: Dict[str, np.ndarray]) -> List[int]:
    """The layers dead_layers finds now that were alive with the parameters `before` training (a
    layer that output 0 already, for constant inputs or one sample, did not die in training).
    The earlier parameters are looked at only when some layer is dead now."""
    dead = dead_layers(network, X)
    return [l for l in dead if l not in dead_layers(network, X, parameters=before)] if dead else []


def check_fit(estimator, X: np.ndarray, y, history) -> None:
    """Warn (FitWarning) if the fit that produced `history` ended at chance level or at
    max_epochs while its validation score was still improving."""
    problems: List[str] = []
    chance = _chance_problem(estimator, X, y)
    if chance:
        problems.append(chance)
    if history.validation_error and not history.stopped_early and history.best_epoch == history.n_epochs \
            and history.n_epochs == estimator.max_epochs and estimator.max_epochs > 1:
        problems.append(f"training reached max_epochs={estimator.max_epochs} while the validation score was still "
                        "improving: raise max_epochs")
    for problem in problems:
        warnings.warn(problem, FitWarning, stacklevel=4)


def _chance_problem(estimator, X, y) -> Optional[str]:
    predictions = estimator.predict(X)
    if hasattr(estimator, "classes_"):
        y = np.asarray(y)
        if y.ndim != 1 or len(estimator.classes_) < 2:
            return None
        majority = np.unique(y, return_counts=True)[1].max() / y.shape[0]
        accuracy = float(np.mean(predictions == y))
        if accuracy <= majority + 1e-12:
            return (f"training ended at chance level: training accuracy {accuracy:.3f}, no better than always "
                    f"predicting the most frequent class ({majority:.3f}): try input_scaling='auto', another "
                    "learning_rate, or more max_epochs")
        return None
    y = np.asarray(y, dtype=np.float64).reshape(predictions.shape)
    residual = np.sum((y - predictions) ** 2)
    total = np.sum((y - y.mean(axis=0)) ** 2)
    if total > 0 and residual >= total:
        return (f"training ended no better than predicting the mean (training R² {1 - residual / total:.3f}): try "
                "input_scaling='auto', another learning_rate, or more max_epochs")
    return None
