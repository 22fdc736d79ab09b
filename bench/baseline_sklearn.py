"""scikit-learn's MLPClassifier with plain SGD, for reference timings. Its penalty is
alpha/(2·batch)·‖W‖² per batch, so alpha = λ·batch gives the same step W ← W − α(∇ + λW)."""

import warnings

import numpy as np


def make(widths, batch: int, learning_rate: float, l2: float, seed: int = 0):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=tuple(widths[1:-1]), activation="relu", solver="sgd",
                         alpha=l2 * batch, batch_size=batch, learning_rate_init=learning_rate, momentum=0.0,
                         nesterovs_momentum=False, shuffle=True, random_state=seed)


def train_epoch(model, X: np.ndarray, y: np.ndarray, classes: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(X, y, classes=classes)
