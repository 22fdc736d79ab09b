"""FNNClassifier: the chapter's network as a scikit-learn classifier."""

from __future__ import annotations

import math
import numbers
from typing import List

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d

from ..io.model_file import ModelFileError, register, require
from ..training.settings import ESTIMATOR, ESTIMATOR_BATCH_SIZE, ESTIMATOR_SOLVER
from .estimator_base import FNNEstimator


class FNNClassifier(ClassifierMixin, FNNEstimator):
    """A feedforward network classifier trained by backpropagation and SGD (Algorithm 4.1).

    Two classes use one logistic output unit (4.36); C > 2 classes a softmax layer with
    cross-entropy (4.37)-(4.38); multi-label targets (a 0/1 indicator matrix) one logistic unit
    per label. Training shuffles every epoch, updates after every sample (or mini-batch) and,
    with ``early_stopping``, stops when the error rate on a held-out validation set stops
    falling, keeping the best weights.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Widths m⁽¹⁾ … m⁽ᴸ⁻¹⁾ of the hidden layers.
    activation : str or fnn.Activation, default "relu"
        Hidden activation (section 4.1): ``"logistic"``, ``"tanh"``, ``"hard_logistic"``,
        ``"hard_tanh"``, ``"relu"``, ``"leaky_relu"``, ``"prelu"``, ``"elu"``, ``"softplus"``,
        ``"maxout"``, ``"identity"``, or an instance such as ``fnn.LeakyReLU(0.1)``.
    learning_rate : float, default %(learning_rate)s
        α of the update (the initial α of a schedule); scikit-learn's ``learning_rate_init``.
    l2 : float, default 1e-4
        λ of the risk (4.39); each step applies W ← W − α(δaᵀ + λW) (biases are not decayed).
        Unlike scikit-learn's MLP ``alpha`` it is not divided by the batch size.
    batch_size : int or "auto", default "auto"
        Samples per update; 1 is the chapter's per-sample SGD. "auto": 1 for up to 200 training
        rows, then about 100 updates an epoch, at most 200 samples each (scikit-learn's
        ``min(200, n_samples)``); 32 at least with ``dtype="bfloat16"``.
    max_epochs : int, default 200
        Upper bound on the passes over the training data.
    early_stopping : bool, default True
        Hold out ``validation_fraction`` of the data (stratified) and stop when its error rate
        has not fallen for ``patience`` epochs, restoring the best epoch's weights. False
        stops as scikit-learn's MLP does without it: after ``patience`` epochs that did not
        lower the training risk by more than ``tol``, keeping the last weights (or after
        ``max_epochs``; with ``tol=0`` that is rare).
    validation_fraction : float, default 0.1
        Share of the training data held out for early stopping.
    patience : int or numpy.inf, default 10
        Epochs without improvement before stopping; ``numpy.inf`` trains ``max_epochs`` and
        still keeps the best epoch's weights.
    tol : float, default 0.0
        An epoch improves only if it lowers the best validation error by more than tol.
    init : {"auto", "glorot", "he", "zeros"}, default "auto"
        Weight initialisation (see :class:`fnn.Network`).
    dtype : {"float32", "float64", "bfloat16"}, default "float32"
        Precision of the parameters and arithmetic; X is converted to it once. "bfloat16": float32
        data and parameters, matrix products on bfloat16 copies (see :class:`fnn.Network`); needs
        ``batch_size`` ≥ 2 ("auto" gives it).
    n_threads : int or None, default None
        Threads of the C++ engine; None uses every available core within the limit that
        ``threadpoolctl.threadpool_limits`` sets.
    random_state : int, RandomState or None, default None
        Seeds initialisation, validation split and shuffling; an int makes fits reproducible.
    warm_start : bool, default False
        If True, ``fit`` continues from the weights of the previous fit.
    verbose : bool, default False
        Print one line per epoch.
    input_scaling : {"auto", "standard", "none"} or bool, default "auto"
        Scale the input features inside the model (learned in the first ``fit``, applied by
        ``predict``, ``predict_proba``, ``score`` and ``partial_fit``, saved in the model file),
        so that raw data of any scale (pixels 0–255, incomes in the millions) trains as well as
        scaled data. Every feature is centred. "standard" divides each by its own standard
        deviation. "auto" does so when the features' standard deviations differ by more than a
        factor of 10 (wine, breast cancer, pixels); features already on comparable scales share
        one scale, the root mean variance, so that their relative spread, which carries
        information, is kept (iris). Constant features are only centred. "none" or False feeds X
        to the network as given; True is "auto".
    solver : {"sgd", "adam", "adamw", "adagrad", "rmsprop"}, default "%(solver)s"
        The update rule (see :mod:`fnn.training.optimisers`), as scikit-learn names it: "sgd" is SGD with
        ``momentum`` (Nesterov's when ``nesterovs_momentum``), plain SGD (Algorithm 4.1) at
        ``momentum=0``; "adam" is Adam; "adamw" Adam with decoupled weight decay; "adagrad" and
        "rmsprop" the rules of the same names. Each is computed as PyTorch's ``torch.optim``
        computes it; its state continues through ``warm_start``, ``partial_fit`` and model files.
        The default was chosen by ``python -m bench.defaults`` (see docs/guide/estimators.md).
    momentum : float, default %(momentum)s
        μ ≥ 0 of solver="sgd".
    nesterovs_momentum : bool, default True
        Nesterov's momentum for solver="sgd" with momentum > 0.
    beta_1, beta_2 : float, default 0.9, 0.999
        Decay rates in [0, 1) of Adam's moment estimates; beta_2 is also RMSprop's ρ.
    epsilon : float, default 1e-8
        ε > 0 in the denominators of adam, adamw, adagrad and rmsprop.
    schedule : {"constant", "invscaling", "step", "cosine", "adaptive"}, default "constant"
        The learning rate of each epoch (see :mod:`fnn.training.schedules`; scikit-learn calls this
        ``learning_rate``, which here is α itself). "adaptive" divides α by 5 each time
        ``patience`` epochs bring no improvement, instead of stopping, until α < 1e-6.
    power_t : float, default 0.5
        Exponent of "invscaling": α / (t + 1)^power_t, t the samples trained on so far.
    step_epochs, step_factor : int, float, default 10, 0.5
        "step": α is multiplied by step_factor every step_epochs epochs.
    shuffle : bool, default True
        Shuffle the training samples every epoch; False trains on them in their order.
    clip_norm : float or None, default None
        Scale each step's gradient down to this Euclidean norm when it is larger (see
        :meth:`fnn.Network.fit`).
    class_weight : dict, "balanced" or None, default None
        Weights of the classes, multiplied into ``sample_weight``: a class's samples take
        steps scaled by its weight. "balanced" weights classes by n_samples / (C · count).

    Attributes
    ----------
    classes_ : ndarray
        The class labels (for multi-label targets, the label indices 0 … k−1).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had string column names (e.g. a pandas DataFrame).
    network_ : fnn.Network
        The trained network; its ``parameters()`` are the live weights.
    history_ : fnn.History
        The per-epoch record of the last call to fit or partial_fit.
    loss_curve_ : list of float
        Training risk (4.39) of every epoch, across warm-started fits and partial_fit calls.
    validation_scores_ : list of float
        Validation accuracy after every epoch (None without early stopping).
    validation_loss_curve_ : list of float
        Validation loss (mean cross-entropy) after every epoch.
    n_iter_ : int
        Epochs run.
    best_epoch_ : int
        The epoch whose weights the network holds.
    t_ : int
        Training samples seen (samples × epochs).
    best_loss_ : float or None
        The lowest training risk of ``loss_curve_`` without early stopping; None with it.
    best_validation_score_ : float or None
        The best validation accuracy with early stopping; None without it.
    coefs_, intercepts_ : list of ndarray
        W⁽ˡ⁾ᵀ, shape (m⁽ˡ⁻¹⁾, m⁽ˡ⁾), and b⁽ˡ⁾ of each layer, as scikit-learn's MLP holds them
        (copies; ``network_.parameters()`` are the live arrays).
    n_layers_ : int
        Layers including the input layer (hidden layers + 2), as scikit-learn counts them.
    out_activation_ : str
        "softmax", "logistic" (binary or multi-label) or "identity" (regression).
    """

    __doc__ %= {"solver": ESTIMATOR_SOLVER, "momentum": ESTIMATOR.momentum, "learning_rate": ESTIMATOR.learning_rate}
    _numeric_targets = False

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, learning_rate=ESTIMATOR.learning_rate,
                 l2=ESTIMATOR.l2, batch_size=ESTIMATOR_BATCH_SIZE, max_epochs=ESTIMATOR.max_epochs, early_stopping=True,
                 validation_fraction=ESTIMATOR.validation_fraction, patience=ESTIMATOR.patience, tol=ESTIMATOR.tol,
                 init="auto", dtype="float32", n_threads=None, random_state=None, warm_start=False, verbose=False,
                 input_scaling="auto", solver=ESTIMATOR_SOLVER, momentum=ESTIMATOR.momentum,
                 nesterovs_momentum=True, beta_1=ESTIMATOR.beta_1, beta_2=ESTIMATOR.beta_2, epsilon=ESTIMATOR.epsilon,
                 schedule=ESTIMATOR.schedule, power_t=ESTIMATOR.power_t, step_epochs=ESTIMATOR.step_epochs,
                 step_factor=ESTIMATOR.step_factor, shuffle=ESTIMATOR.shuffle, clip_norm=ESTIMATOR.clip_norm,
                 class_weight=None):
        super().__init__(hidden_layer_sizes, activation, learning_rate=learning_rate, l2=l2, batch_size=batch_size,
                         max_epochs=max_epochs, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, patience=patience, tol=tol, init=init, dtype=dtype,
                         n_threads=n_threads, random_state=random_state, warm_start=warm_start, verbose=verbose,
                         input_scaling=input_scaling, solver=solver, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         schedule=schedule, power_t=power_t, step_epochs=step_epochs, step_factor=step_factor,
                         shuffle=shuffle, clip_norm=clip_norm)
        self.class_weight = class_weight

    # ------------------------------------------------------------------ targets

    def _encode_targets(self, y, *, first: bool, classes=None, comm=None, sample_weight=None):
        # (classes: every rank's. Labels are encoded, not standardised: the weights change nothing.)
        kind = type_of_target(y, input_name="y")
        if kind == "multilabel-indicator":
            y = np.asarray(y)
            state = {"classes_": np.arange(y.shape[1]), "_target_kind": kind}
            if not first and (self._target_kind != kind or y.shape[1] != self.classes_.size):
                raise ValueError(f"y has {y.shape[1]} labels per sample, but the classifier was fitted on "
                                 f"{self._describe_targets()}")
            return np.ascontiguousarray(y, dtype=np.float64), y.shape[1], "logistic", state if first else {}
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: {kind!r}. FNNClassifier needs class labels (binary or multiclass) "
                             "or a 0/1 multi-label indicator matrix; use FNNRegressor for continuous targets")
        y = column_or_1d(y, warn=True)
        if first:
            known = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if classes is not None and not np.isin(y, known).all():
                raise ValueError(f"y has labels {sorted(set(np.unique(y)) - set(known))} that are not in classes")
            if known.size < 2:
                raise ValueError(f"FNNClassifier needs at least 2 classes in y, got 1 class ({known[0]!r})")
            state = {"classes_": known, "_target_kind": "binary" if known.size == 2 else "multiclass"}
        else:
            if self._target_kind == "multilabel-indicator":
                raise ValueError(f"y holds class labels, but the classifier was fitted on {self._describe_targets()}")
            labels = np.unique(y)
            if classes is not None and not np.array_equal(self.classes_, np.unique(np.asarray(classes))):
                raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
                                 f"{self.classes_!r}")  # (scikit-learn's words, as below)
            if classes is None and self.warm_start and set(labels) != set(self.classes_):
                raise ValueError("warm_start can only be used where `y` has the same classes as in the previous call "
                                 f"to fit. Previously got {self.classes_}, `y` has {labels}")
            if np.setdiff1d(labels, self.classes_).size:
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {labels}.")
            state = {}
        classes_ = state["classes_"] if first else self.classes_
        target_kind = state["_target_kind"] if first else self._target_kind
        encoded = np.searchsorted(classes_, y)
        if target_kind == "binary":
            return encoded.astype(np.float64)[:, None], 1, "logistic", state
        return encoded, classes_.size, "softmax", state

    def _describe_targets(self) -> str:
        if self._target_kind == "multilabel-indicator":
            return f"{self.classes_.size} labels (multi-label)"
        return f"classes {list(self.classes_)}"

    def _target_weights(self, y, target_state):
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, dict):  # named here, not as the sample weights they become
            for label, weight in self.class_weight.items():
                if not isinstance(weight, numbers.Real) or not math.isfinite(weight) or weight < 0:
                    raise ValueError(f"class_weight[{label!r}] is {weight!r}: class weights must be finite numbers "
                                     ">= 0")
            positive = [float(w) for w in self.class_weight.values() if w > 0]
            if positive and max(positive) * float(np.finfo(self._dtype()).tiny) > min(positive):
                raise ValueError(f"class_weight spans {min(positive):.3g} to {max(positive):.3g}: in "
                                 f"{self._dtype().name} the smaller vanish next to the larger; narrow the range")
        return compute_sample_weight(self.class_weight, y)

    def _weights(self, y, weights, target_state):
        weights = super()._weights(y, weights, target_state)
        kind = target_state.get("_target_kind") or self._target_kind
        if weights is not None and kind != "multilabel-indicator":
            weighted = np.unique(np.asarray(y)[weights > 0])
            if weighted.size < 2:
                raise ValueError(f"sample_weight leaves only 1 class with positive weight ({list(weighted)}); "
                                 "a classifier needs at least 2 classes")
        return weights

    def _validation_score(self, validation_error: float) -> float:
        return 1.0 - validation_error

    @staticmethod
    def _best_validation(scores: List[float]) -> float:
        return max(scores)

    # ------------------------------------------------------------------ public API

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of SGD over (X, y), continuing from the current weights (no early stopping).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like, optional
            Every class label that y may ever hold; required on the first call (as in
            scikit-learn), ignored on later ones. Not needed for multi-label indicator targets.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        if not hasattr(self, "network_") and classes is None and type_of_target(y) != "multilabel-indicator":
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes); per-label probabilities p(yⱼ = 1|x)
        for multi-label targets. float32 for float32 X and a float32 model, else float64."""
        p = self._forward(X)
        if self._target_kind == "binary":
            return np.hstack([1 - p, p])
        return p

    def predict_log_proba(self, X) -> np.ndarray:
        """The logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Class labels (from ``classes_``), or a 0/1 indicator matrix for multi-label targets."""
        return self._predictions(self._forward(X))

    def _predictions(self, p: np.ndarray) -> np.ndarray:
        """The labels the network's output `p` stands for."""
        if self._target_kind == "multilabel-indicator":
            return (p >= 0.5).astype(np.int64)
        if self._target_kind == "binary":
            return self.classes_[(p[:, 0] >= 0.5).astype(np.int64)]
        return self.classes_[np.argmax(p, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True  # multi-label indicator targets
        return tags

    # ------------------------------------------------------------------ model files

    def _private_state(self):
        classes = self.classes_
        if classes.dtype == object:
            if not all(isinstance(c, str) for c in classes):
                raise ModelFileError("cannot save FNNClassifier: classes_ mixes types; only numeric or string "
                                     "labels can be stored without pickle")
            classes = classes.astype(str)
        extras = {"target_kind": self._target_kind, "classes_are_objects": self.classes_.dtype == object}
        return extras, {"classes_": classes}

    def _restore_private_state(self, path, extras, arrays) -> None:
        require("classes_" in arrays, path, "the array classes_ is missing")
        require(extras.get("target_kind") in ("binary", "multiclass", "multilabel-indicator"), path,
                f"unknown target kind {extras.get('target_kind')!r}")
        classes = arrays["classes_"]
        kind, width = extras["target_kind"], self.network_.widths[-1]
        require(classes.ndim == 1 and classes.dtype.kind in "biufU", path, "classes_ must be a 1-D array of labels")
        expected = 2 if kind == "binary" else width
        require(classes.shape[0] == expected and (kind != "binary" or width == 1), path,
                f"{classes.shape[0]} classes_ for a {kind} network with {width} output units")
        require(len(np.unique(classes)) == classes.shape[0], path, "classes_ repeats a label")
        self.classes_ = classes.astype(object) if extras.get("classes_are_objects") else classes
        self._target_kind = kind


register("FNNClassifier", FNNClassifier._from_file, FNNClassifier.save)
