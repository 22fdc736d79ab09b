"""FNNRegressor: the chapter's network with a linear output layer, as a scikit-learn regressor."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin

from ..io.model_file import register, require
from ..training.settings import ESTIMATOR, ESTIMATOR_BATCH_SIZE, ESTIMATOR_SOLVER, REGRESSOR_L2
from .estimator_base import FNNEstimator


class FNNRegressor(RegressorMixin, FNNEstimator):
    """A feedforward network regressor: hidden layers, an identity output layer and the squared
    error ½‖y − ŷ‖², trained by backpropagation and SGD (Algorithm 4.1).

    Takes the same parameters as :class:`FNNClassifier` except ``class_weight``, plus
    ``target_scaling``; its ``l2`` defaults to 0.025 (on the small noisy tables of
    ``python -m bench.tabular`` 1e-4 fitted the noise; see docs/guide/estimators.md). Early stopping watches the
    validation loss. Multi-output targets (n_samples, k) use k output units.

    Parameters
    ----------
    target_scaling : bool, default True
        Train on each target standardised to mean 0 and standard deviation 1, and map the
        predictions back. Plain SGD with a fixed learning rate diverges on targets in the
        hundreds; scaling makes the defaults work whatever the targets' unit. The losses in
        ``loss_curve_`` and ``validation_loss_curve_`` are then in standardised units. False
        trains on y as given, exactly as :class:`fnn.Network` would.

    Attributes
    ----------
    target_mean_, target_scale_ : ndarray of shape (n_outputs,)
        The standardisation applied to y (0 and 1 without ``target_scaling``).
    n_features_in_ : int
    n_outputs_ : int
        Number of targets k.
    network_ : fnn.Network
    history_ : fnn.History
    loss_curve_ : list of float
        Training risk (4.39) of every epoch.
    validation_scores_ : list of float
        Validation loss after every epoch (lower is better), as early stopping saw it; None
        without early stopping.
    validation_loss_curve_ : list of float
        The same validation loss.
    best_loss_ : float or None
        The lowest training risk without early stopping; None with it.
    best_validation_score_ : float or None
        The lowest validation loss with early stopping; None without it.
    n_iter_, best_epoch_, t_ : int
        Epochs run, the epoch whose weights are kept, samples seen.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, learning_rate=ESTIMATOR.learning_rate,
                 l2=REGRESSOR_L2, batch_size=ESTIMATOR_BATCH_SIZE, max_epochs=ESTIMATOR.max_epochs, early_stopping=True,
                 validation_fraction=ESTIMATOR.validation_fraction, patience=ESTIMATOR.patience, tol=ESTIMATOR.tol,
                 init="auto", dtype="float32", n_threads=None, random_state=None, warm_start=False, verbose=False,
                 input_scaling="auto", solver=ESTIMATOR_SOLVER, momentum=ESTIMATOR.momentum,
                 nesterovs_momentum=True, beta_1=ESTIMATOR.beta_1, beta_2=ESTIMATOR.beta_2, epsilon=ESTIMATOR.epsilon,
                 schedule=ESTIMATOR.schedule, power_t=ESTIMATOR.power_t, step_epochs=ESTIMATOR.step_epochs,
                 step_factor=ESTIMATOR.step_factor, shuffle=ESTIMATOR.shuffle, clip_norm=ESTIMATOR.clip_norm,
                 target_scaling=True):
        super().__init__(hidden_layer_sizes, activation, learning_rate=learning_rate, l2=l2, batch_size=batch_size,
                         max_epochs=max_epochs, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, patience=patience, tol=tol, init=init, dtype=dtype,
                         n_threads=n_threads, random_state=random_state, warm_start=warm_start, verbose=verbose,
                         input_scaling=input_scaling, solver=solver, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         schedule=schedule, power_t=power_t, step_epochs=step_epochs, step_factor=step_factor,
                         shuffle=shuffle, clip_norm=clip_norm)
        self.target_scaling = target_scaling

    def _encode_targets(self, y, *, first: bool, classes=None, comm=None, sample_weight=None):
        y = np.asarray(y, dtype=np.float64)
        one_dimensional = y.ndim == 1
        k = 1 if one_dimensional else y.shape[1]
        y = y.reshape(len(y), k)
        if first:
            mean, scale = np.zeros(k), np.ones(k)
            if self.target_scaling:
                if sample_weight is None:
                    mean, variance = y.mean(axis=0), y.var(axis=0)
                else:  # weighted, as a weight of k stands for k copies of the row
                    mean = np.average(y, axis=0, weights=sample_weight)
                    variance = np.average((y - mean) ** 2, axis=0, weights=sample_weight)
                if comm is not None:  # over every rank's targets
                    from ..scale.shards import pooled_moments

                    _, mean, variance = pooled_moments(len(y), mean, variance, comm)
                spread = np.sqrt(variance)
                scale = np.where(spread > 0, spread, 1.0)
            state = {"n_outputs_": k, "_one_dimensional": one_dimensional, "target_mean_": mean, "target_scale_": scale}
        elif k != self.n_outputs_:
            raise ValueError(f"y has {k} targets per sample, but the regressor was fitted with {self.n_outputs_}")
        else:
            state, mean, scale = {}, self.target_mean_, self.target_scale_
        return np.ascontiguousarray((y - mean) / scale), k, "identity", state

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of SGD over (X, y), continuing from the current weights (no early stopping).

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=None)

    def predict(self, X) -> np.ndarray:
        """ŷ, shape (n_samples,) for a 1-D training target, else (n_samples, n_outputs)."""
        return self._predictions(self._forward(X))

    def _predictions(self, y_hat: np.ndarray) -> np.ndarray:
        """ŷ in the targets' units from the network's output (standardised units)."""
        y_hat = y_hat * self.target_scale_.astype(y_hat.dtype) + self.target_mean_.astype(y_hat.dtype)
        return y_hat[:, 0] if self._one_dimensional else y_hat

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _private_state(self):
        extras = {"n_outputs_": int(self.n_outputs_), "one_dimensional": bool(self._one_dimensional)}
        return extras, {"target_mean_": self.target_mean_, "target_scale_": self.target_scale_}

    def _restore_private_state(self, path, extras, arrays) -> None:
        require(isinstance(extras.get("n_outputs_"), int) and extras["n_outputs_"] == self.network_.widths[-1], path,
                "n_outputs_ is missing or differs from the network's output width")
        self.n_outputs_ = extras["n_outputs_"]
        self._one_dimensional = bool(extras.get("one_dimensional"))
        for name in ("target_mean_", "target_scale_"):
            require(name in arrays and arrays[name].shape == (self.n_outputs_,) and arrays[name].dtype.kind == "f"
                    and bool(np.isfinite(arrays[name]).all()), path, f"{name} is missing, misshapen or not finite")
            setattr(self, name, arrays[name])
        require(bool((self.target_scale_ > 0).all()), path, "target_scale_ must be positive")


register("FNNRegressor", FNNRegressor._from_file, FNNRegressor.save)
