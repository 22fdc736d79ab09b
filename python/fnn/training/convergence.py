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
    from ..core.activations import PReLU

    params = network.parameters() if parameters is None else parameters
    dead: List[int] = []
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


def check_fit(estimator, predictions: np.ndarray, y, history) -> None:
    """Warn (FitWarning) if the fit that produced `history` ended at chance level or at
    max_epochs while its validation score was still improving (`predictions`: the estimator's
    predictions for the training rows, what ``predict`` would give)."""
    problems: List[str] = []
    chance = _chance_problem(estimator, predictions, y)
    if chance:
        problems.append(chance)
    else:
        overfit = _overfitting_problem(estimator, predictions, y, history)
        if overfit:
            problems.append(overfit)
    if history.validation_error and not history.stopped_early and history.best_epoch == history.n_epochs \
            and history.n_epochs == estimator.max_epochs and estimator.max_epochs > 1:
        problems.append(f"training reached max_epochs={estimator.max_epochs} while the validation score was still "
                        "improving: raise max_epochs")
    for problem in problems:
        warnings.warn(problem, FitWarning, stacklevel=4)


#: A fit warns of overfitting when its validation score is this far below its training score
#: (accuracy; R² for regression, which spreads wider on a few noisy rows).
OVERFIT_GAP = {"accuracy": 0.1, "R²": 0.25}


def _advice_scaling(estimator) -> str:
    """`input_scaling='auto', ` unless that is the setting already (no advice names a value in use)."""
    return "" if estimator.input_scaling in ("auto", True) else "input_scaling='auto', "


def _chance_problem(estimator, predictions, y) -> Optional[str]:
    if hasattr(estimator, "classes_"):
        y = np.asarray(y)
        if y.ndim != 1 or len(estimator.classes_) < 2:
            return None
        majority = np.unique(y, return_counts=True)[1].max() / y.shape[0]
        accuracy = float(np.mean(predictions == y))
        if accuracy <= majority + 1e-12:
            return (f"training ended at chance level: training accuracy {accuracy:.3f}, no better than always "
                    f"predicting the most frequent class ({majority:.3f}): try {_advice_scaling(estimator)}another "
                    "learning_rate, or more max_epochs")
        return None
    y = np.asarray(y, dtype=np.float64).reshape(predictions.shape)
    residual = np.sum((y - predictions) ** 2)
    total = np.sum((y - y.mean(axis=0)) ** 2)
    if total > 0 and residual >= total:
        return (f"training ended no better than predicting the mean (training R² {1 - residual / total:.3f}): try "
                f"{_advice_scaling(estimator)}another learning_rate, or more max_epochs")
    return None


def _overfitting_problem(estimator, predictions, y, history) -> Optional[str]:
    """The warning for a fit whose held-out score is far below its score on the data it was given
    (with early stopping only: without held-out rows there is nothing to compare)."""
    best = getattr(estimator, "best_validation_score_", None)
    if not history.validation_error or best is None:
        return None
    if hasattr(estimator, "classes_"):
        y = np.asarray(y)
        if y.ndim != 1:
            return None
        what, trained, held_out = "accuracy", float(np.mean(predictions == y)), float(best)
    else:
        y = np.asarray(y, dtype=np.float64).reshape(predictions.shape)
        total = np.sum((y - y.mean(axis=0)) ** 2)
        if total <= 0:
            return None
        # The validation loss is ½·(squared error) per sample and output, in the units the network
        # trained in (standardised targets): R² = 1 − 2·loss / (their variance).
        scaled = (y - estimator.target_mean_) / estimator.target_scale_
        variance = float(np.mean(np.var(scaled, axis=0)))
        what, trained, held_out = "R²", 1 - np.sum((y - predictions) ** 2) / total, 1 - 2 * float(best) / variance
    if trained - held_out <= OVERFIT_GAP[what]:
        return None
    l2 = float(estimator.l2)
    stronger = f"l2={max(l2 * 10, 1e-3):g} (now {l2:g})"
    return (f"the network fits its training data far better than the held-out validation rows (training {what} "
            f"{trained:.3f}, validation {what} {held_out:.3f}): it learned noise. Try a larger {stronger}, fewer "
            f"hidden units (hidden_layer_sizes, now {tuple(estimator._hidden_widths())}), or more data")
