"""The output layers of section 4.3.1 as objects: what each makes of targets and of ŷ.

softmax (4.37) with cross-entropy (4.38): class labels 0 … C−1, one-hot targets. logistic
(4.36) with binary cross-entropy: 0/1 labels, one per unit (several units: multi-label).
identity with squared error: real targets (regression). The C++ engine computes ŷ and the loss;
everything Python does with them by kind of output is a method here, so a new output layer is
one class, not a branch in every method of the network.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple

import numpy as np

from .validation import check_binary_targets, check_labels, check_real_targets

#: A function giving the stratum (an int32 per row) of some rows, and the number of strata.
Stratifier = Tuple[Callable[[np.ndarray], np.ndarray], int]


class OutputLayer:
    """What fnn does with targets and outputs for one kind of output layer."""

    name = ""
    #: Whether the output is a classification (probabilities, error rates, stratified splits).
    classifies = True

    def targets(self, y, n_samples: int, units: int, dtype, what: str = "y") -> np.ndarray:
        """y as the (n, units) target matrix, checked."""
        raise NotImplementedError

    def decide(self, y_hat: np.ndarray) -> np.ndarray:
        """Predictions from ŷ: labels for classifiers, values for regression."""
        raise NotImplementedError

    def wrong(self, y_hat: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Which rows are misclassified (any wrong label for multi-label)."""
        raise NotImplementedError

    def probabilities(self, y_hat: np.ndarray) -> np.ndarray:
        """p(y|x) from ŷ."""
        raise TypeError("predict_proba needs a classification output ('softmax' or 'logistic')")

    def stratifier(self, targets: np.ndarray) -> Optional[Stratifier]:
        """How to stratify a validation split of these targets (None: a plain random split)."""
        raise NotImplementedError

    def error_rate(self, y_hat: np.ndarray, targets: np.ndarray, sample_weight: Optional[np.ndarray] = None) -> float:
        """Fraction of misclassified rows, weighted if given."""
        return float(np.average(self.wrong(y_hat, targets), weights=sample_weight))

    def score(self, y_hat: np.ndarray, targets: np.ndarray) -> float:
        """Accuracy (exact match for multi-label)."""
        return 1.0 - self.error_rate(y_hat, targets)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Softmax(OutputLayer):
    name = "softmax"

    def targets(self, y, n_samples, units, dtype, what="y"):
        labels = check_labels(y, n_samples, units, what)
        one_hot = np.zeros((n_samples, units), dtype=dtype)
        block = 1 << 16  # rows at a time: fancy indexing makes index arrays as long as its rows
        for first in range(0, n_samples, block):
            part = labels[first:first + block]
            one_hot[first + np.arange(part.size), part] = 1
        return one_hot

    def decide(self, y_hat):
        return np.argmax(y_hat, axis=1)

    def wrong(self, y_hat, targets):
        return np.argmax(y_hat, axis=1) != np.argmax(targets, axis=1)

    def probabilities(self, y_hat):
        return y_hat

    def stratifier(self, targets):
        # The class of the rows asked for, when asked: no array of strata as long as the data.
        return (lambda rows: np.argmax(targets[rows], axis=1).astype(np.int32)), targets.shape[1]


class Logistic(OutputLayer):
    name = "logistic"

    def targets(self, y, n_samples, units, dtype, what="y"):
        return check_binary_targets(y, n_samples, units, dtype, what)

    def decide(self, y_hat):
        labels = (y_hat >= 0.5).astype(np.int64)
        return labels[:, 0] if labels.shape[1] == 1 else labels

    def wrong(self, y_hat, targets):
        return np.any((y_hat >= 0.5) != (targets >= 0.5), axis=1)

    def probabilities(self, y_hat):
        # One unit: columns p(y=0|x), p(y=1|x) as (4.36); several: per-label probabilities.
        return np.hstack([1 - y_hat, y_hat]) if y_hat.shape[1] == 1 else y_hat

    def stratifier(self, targets):
        # By the 0/1 label of one unit, or by the combination of labels of several.
        bits = targets > 0.5
        if bits.shape[1] == 1:
            strata, count = bits[:, 0].astype(np.int32), 2
        else:
            _, inverse = np.unique(bits, axis=0, return_inverse=True)
            strata = inverse.reshape(-1).astype(np.int32)
            count = int(strata.max()) + 1
        return (lambda rows: strata[rows]), count


class Identity(OutputLayer):
    name = "identity"
    classifies = False

    def targets(self, y, n_samples, units, dtype, what="y"):
        return check_real_targets(y, n_samples, units, dtype, what)

    def decide(self, y_hat):
        return y_hat[:, 0] if y_hat.shape[1] == 1 else y_hat

    def stratifier(self, targets):
        return None

    def score(self, y_hat, targets):
        """R², averaged over the outputs (an output whose targets are constant scores 0)."""
        residual = ((targets - y_hat) ** 2).sum(axis=0, dtype=np.float64)
        total = ((targets - targets.mean(axis=0)) ** 2).sum(axis=0, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), 0.0)
        return float(np.mean(r2))


OUTPUT_LAYERS = {layer.name: layer for layer in (Softmax(), Logistic(), Identity())}


def output_layer(name: str) -> OutputLayer:
    """The output layer called `name` ("softmax", "logistic" or "identity")."""
    try:
        return OUTPUT_LAYERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"output must be one of {tuple(OUTPUT_LAYERS)}, got {name!r}") from None
