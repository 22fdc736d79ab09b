"""What FNNClassifier and FNNRegressor share: parameters, fitting, partial_fit, model files."""

from __future__ import annotations

import numbers
import weakref
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _bfloat16
from ..core.activations import Activation, activation_from_dict, activation_to_dict, resolve_activation
from ..core.history import curve_array, curve_list
from ..core.locking import serialised
from ..core.validation import all_finite, check_positive_int, check_sample_weight, first_non_finite
from ..io.model_file import ModelFileError, PathLike, require, write_model
from ..network import Network, TrainingDiverged
from ..training.convergence import check_fit, killed_in_training
from ..training.settings import (
    ESTIMATOR, ESTIMATOR_BATCH_SIZE, ESTIMATOR_SOLVER, TrainingSettings, auto_batch_size, check_batch_size,
    optimiser_of_solver, settings_from,
)
from ..training.training_loop import fit_network

#: input_scaling="auto" gives features one common scale when their standard deviations are within
#: this factor of one another, and each its own scale otherwise.
SAME_SCALE_RATIO = 10.0


class FNNEstimator(BaseEstimator):
    """Base class of the scikit-learn estimators; use :class:`FNNClassifier` or :class:`FNNRegressor`.

    Calls from several threads on one estimator are serialised: fit, partial_fit, predict and
    save hold the estimator's lock, so a second call waits for the first to finish.
    """

    #: Whether fit requires numeric targets (regression) or accepts any labels (classification).
    _numeric_targets = True

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, learning_rate=ESTIMATOR.learning_rate,
                 l2=ESTIMATOR.l2, batch_size=ESTIMATOR_BATCH_SIZE, max_epochs=ESTIMATOR.max_epochs, early_stopping=True,
                 validation_fraction=ESTIMATOR.validation_fraction, patience=ESTIMATOR.patience, tol=ESTIMATOR.tol,
                 init="auto", dtype="float32", n_threads=None, random_state=None, warm_start=False, verbose=False,
                 input_scaling="auto", solver=ESTIMATOR_SOLVER, momentum=ESTIMATOR.momentum,
                 nesterovs_momentum=True, beta_1=ESTIMATOR.beta_1, beta_2=ESTIMATOR.beta_2, epsilon=ESTIMATOR.epsilon,
                 schedule=ESTIMATOR.schedule, power_t=ESTIMATOR.power_t, step_epochs=ESTIMATOR.step_epochs,
                 step_factor=ESTIMATOR.step_factor, shuffle=ESTIMATOR.shuffle, clip_norm=ESTIMATOR.clip_norm):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate = learning_rate
        self.l2 = l2
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.tol = tol
        self.init = init
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.input_scaling = input_scaling
        self.solver = solver
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.schedule = schedule
        self.power_t = power_t
        self.step_epochs = step_epochs
        self.step_factor = step_factor
        self.shuffle = shuffle
        self.clip_norm = clip_norm

    # ------------------------------------------------------------------ hooks of the subclasses

    def _encode_targets(self, y, *, first: bool, classes=None, comm=None,
                        sample_weight=None) -> Tuple[np.ndarray, int, str, Dict[str, Any]]:
        """(targets for the network, number of output units, output layer, fitted attributes
        describing the targets). `first` when the network is (re)built; otherwise the targets
        must fit the fitted network. With an MPI communicator, statistics of the targets are
        those of every rank's. The attributes are set only once training has succeeded,
        so a rejected or failed fit leaves the estimator as it was."""
        raise NotImplementedError

    def _target_weights(self, y, target_state: Dict[str, Any]) -> Optional[np.ndarray]:
        """Per-sample weights implied by the targets (the classifier's class_weight)."""
        return None

    # ------------------------------------------------------------------ fitting

    def _hidden_widths(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            return [check_positive_int(m, "hidden_layer_sizes entries") for m in sizes]
        except TypeError:
            raise TypeError("hidden_layer_sizes must be a sequence of positive integers, got "
                            f"{self.hidden_layer_sizes!r}") from None

    def _dtype(self):
        """The dtype of the data and parameters (float32 for bfloat16 products)."""
        if self._bfloat16():
            return np.dtype(np.float32)
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32, float64 or bfloat16, got {self.dtype!r}")
        return dtype

    def _bfloat16(self) -> bool:
        return isinstance(self.dtype, str) and self.dtype == "bfloat16"

    def _check_settings(self, training_rows: Optional[int] = None) -> TrainingSettings:
        """The training settings the parameters make, every one checked (a ValueError or
        TypeError names the first bad one); batch_size="auto" chosen for `training_rows` (or, before
        the data are known, for none)."""
        optimiser = optimiser_of_solver(self.solver, self.momentum, self.nesterovs_momentum)
        batch_size = check_batch_size(self.batch_size)
        if batch_size == "auto":
            batch_size = auto_batch_size(training_rows or 0, bfloat16=self._bfloat16())
        # (The parameters are named as the settings they are, but for solver and the batch size.)
        settings = settings_from(self.get_params(deep=False), optimiser=optimiser, batch_size=batch_size)
        if self.input_scaling not in (True, False, None, "auto", "standard", "none"):
            raise ValueError(f"input_scaling must be 'auto', 'standard', 'none', True or False, got "
                             f"{self.input_scaling!r}")
        self._dtype()
        if self._bfloat16():
            _bfloat16.check_available()
            _bfloat16.check_fit(settings.batch_size)
        return settings

    def _new_network(self, n_features: int, n_outputs: int, output: str) -> Network:
        seed = self.random_state
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
            seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
        return Network([n_features, *self._hidden_widths(), n_outputs], self.activation, output,
                       init=self.init, dtype="bfloat16" if self._bfloat16() else self._dtype(), seed=int(seed),
                       n_threads=self.n_threads)

    def _validate_X_y(self, X, y, reset: bool):
        _refuse_text_columns(X)
        _check_targets(y, self._numeric_targets)
        with np.errstate(over="ignore"):  # values beyond float32's range are named below
            X_checked, y_checked = validate_data(self, X, y, reset=reset, dtype=self._dtype(), order="C",
                                                 multi_output=True, y_numeric=self._numeric_targets,
                                                 ensure_all_finite=False)
        _check_finite(X_checked, X, "X", self._dtype())
        return X_checked, y_checked

    def _weights(self, y, weights: Optional[np.ndarray], target_state: Dict[str, Any]) -> Optional[np.ndarray]:
        """The checked sample weights (None: all equal) times the weights the targets imply."""
        implied = self._target_weights(y, target_state)
        if implied is not None:
            weights = implied if weights is None else weights * implied
        return weights

    def fit(self, X, y, sample_weight=None, callback=None):
        """Train the network on (X, y) by Algorithm 4.1 (SGD with validation early stopping).

        A new network is initialised unless ``warm_start`` is True and the estimator was
        fitted before, in which case training continues from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights: each sample's loss, hence its SGD step, is scaled by its weight.
        callback : callable, optional
            ``callback(history)`` after every epoch (see :meth:`fnn.Network.fit`); returning
            True stops training. The command line's progress bar is one.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False, classes=None, callback=callback)

    @serialised
    def _fit(self, X, y, sample_weight, *, incremental: bool, classes, callback=None, comm=None):
        """The fit: on (X, y), or with an MPI communicator `comm` on this rank's shard of the data
        of every rank (fnn.scale.distributed; the input scaling and the targets' standardisation then
        pooled over all ranks, the classifier's `classes` the union of all ranks' labels). Three
        steps: the data and settings checked and prepared, the network trained, the fit recorded;
        the fitted attributes change only in the last, so a rejected or failed fit leaves them as
        they were (but for n_features_in_ and feature_names_in_, which scikit-learn's
        validate_data records first)."""
        plan = self._plan_fit(X, y, sample_weight, incremental=incremental, classes=classes, comm=comm)
        history = self._train_network(plan, callback, comm)
        self._record_fit(plan, history)
        if not incremental and comm is None:  # (its checks look at this process's data)
            # (From X as trained on, checked and scaled: predict(X) would check and copy it again.)
            predictions = self._predictions(plan.network._forward(plan.X).astype(np.float64, copy=False))
            check_fit(self, predictions, plan.y, history)
        return self

    def _plan_fit(self, X, y, sample_weight, *, incremental: bool, classes, comm) -> "_FitPlan":
        """Everything a fit needs, checked: X once (and copied at most once), the settings, the
        weights, the input scaler, the encoded targets and the network to train."""
        s = self._check_settings()
        continuing = (self.warm_start or incremental) and hasattr(self, "network_")
        target_name = getattr(y, "name", None)  # a pandas Series' name: the command line stores it
        given_X = X
        X, y = self._validate_X_y(X, y, reset=not continuing)
        if self.batch_size == "auto":  # chosen for the rows trained on (every rank's, with MPI)
            rows = X.shape[0] if comm is None else sum(comm.allgather(X.shape[0]))
            held_out = self.validation_fraction if self.early_stopping and not incremental else 0.0
            s = self._check_settings(int(rows * (1 - held_out)))
        given_weights = check_sample_weight(sample_weight, len(y), np.float64, trained_in=self._dtype())
        # The statistics taken from the data (input scaling, the regressor's target standardisation)
        # are weighted, so that a weight of k acts as k copies of a row (not over MPI: per rank).
        statistics_weights = given_weights if comm is None else None
        scaler = getattr(self, "input_scaler_", None) if continuing else \
            self._new_input_scaler(X, comm, statistics_weights)
        # At most one copy of X: the conversion's (to the dtype, C order), then scaled in place.
        own_copy = X is not given_X and X.flags.owndata and X.flags.writeable and X.flags.c_contiguous
        X = self._scaled(X, scaler, in_place=own_copy)
        targets, n_outputs, output, target_state = self._encode_targets(y, first=not continuing, classes=classes,
                                                                        comm=comm, sample_weight=statistics_weights)
        weights = self._weights(y, given_weights, target_state)
        validation = 0.0
        if not incremental and self.early_stopping:
            validation = self.validation_fraction
            if X.shape[0] < 2:
                raise ValueError(f"n_samples = {X.shape[0]}: early stopping needs at least 2 samples to hold some "
                                 "out for validation (or set early_stopping=False)")
        if continuing:
            network = self.network_
            if network.widths[-1] != n_outputs:
                raise ValueError(f"y needs {n_outputs} output units, but the fitted network has {network.widths[-1]}")
            curves = (self.loss_curve_, self.validation_loss_curve_, self.validation_scores_)
            first_epoch, seen = self.n_iter_, self.t_
        else:
            network = self._new_network(X.shape[1], n_outputs, output)
            curves, first_epoch, seen = ([], [], []), 0, 0
        s = s.replace(max_epochs=1 if incremental else s.max_epochs, validation_fraction=validation,
                      stop_on_training_loss=not incremental and not self.early_stopping)
        return _FitPlan(X, y, targets, weights, s, scaler, target_state, target_name, continuing, network, curves,
                        first_epoch, seen)

    def _train_network(self, plan: "_FitPlan", callback, comm):
        """The planned network trained (on every rank's rows, with MPI); TrainingDiverged if every
        ReLU unit of a hidden layer died in training."""
        network, X = plan.network, plan.X
        # (A copy of the weights costs less than the forward pass that would check them now.)
        before = {name: array.copy() for name, array in network.parameters().items()}
        if comm is None:  # X is checked, C-ordered and in the network's dtype: not checked again
            history = fit_network(network, X, plan.targets, plan.settings, sample_weight=plan.weights,
                                  callback=callback, verbose=bool(self.verbose), samples_seen=plan.seen,
                                  X_checked=True)
            layers = killed_in_training(network, X, before)
        else:
            from ..scale.distributed import fit_settings as fit_on_every_rank

            history = fit_on_every_rank(network, X, plan.targets, plan.settings, comm=comm, sample_weight=plan.weights,
                                        verbose=bool(self.verbose), callback=callback)
            # Dead on every rank's rows (and not before training): one decision for all.
            layers = sorted(set.intersection(*map(set, comm.allgather(killed_in_training(network, X, before)))))
        if layers:
            raise TrainingDiverged(
                f"every ReLU unit of hidden layer(s) {layers} died in training (learning_rate={self.learning_rate}): "
                "they output 0 for every sample, so the network computes a constant. Try a smaller learning_rate "
                "or activation='leaky_relu'; the estimator was left as it was.")
        return history

    def _record_fit(self, plan: "_FitPlan", history) -> None:
        """The fitted attributes, scikit-learn's MLP's among them, after a successful fit."""
        for name, value in plan.target_state.items():
            setattr(self, name, value)
        self.input_scaler_ = plan.scaler
        if isinstance(plan.target_name, str):
            self.target_name_ = plan.target_name
        elif not plan.continuing and hasattr(self, "target_name_"):
            del self.target_name_
        self.network_ = plan.network
        self.history_ = history
        curves, first_epoch, validation = plan.curves, plan.first_epoch, plan.settings.validation_fraction
        self.loss_curve_ = curves[0] + list(history.train_risk)
        self.validation_loss_curve_ = curves[1] + list(history.validation_loss)
        # None without a validation set, as scikit-learn has it.
        scores = (curves[2] or []) + [self._validation_score(e) for e in history.validation_error]
        self.validation_scores_ = scores if scores else None
        self.n_iter_ = first_epoch + history.n_epochs
        self.best_epoch_ = first_epoch + (history.best_epoch or history.n_epochs)
        self.t_ = plan.seen + plan.X.shape[0] * history.n_epochs
        self.best_loss_ = None if validation else min(self.loss_curve_ or [np.inf])
        self.best_validation_score_ = self._best_validation(scores) if validation else None

    # ------------------------------------------------------------------ scikit-learn's MLP attributes

    @property
    def coefs_(self):
        """W⁽ˡ⁾ᵀ of each layer, shape (m⁽ˡ⁻¹⁾, m⁽ˡ⁾) as in scikit-learn's MLP (copies)."""
        check_is_fitted(self, "network_")
        p = self.network_.parameters()
        return [np.moveaxis(p[f"weights_{l}"], -1, 0).copy() for l in range(1, self.network_.n_layers + 1)]

    @property
    def intercepts_(self):
        """b⁽ˡ⁾ of each layer (copies)."""
        check_is_fitted(self, "network_")
        p = self.network_.parameters()
        return [p[f"biases_{l}"].copy() for l in range(1, self.network_.n_layers + 1)]

    @property
    def n_layers_(self) -> int:
        """Layers counting the input layer, as scikit-learn counts them: hidden layers + 2."""
        check_is_fitted(self, "network_")
        return self.network_.n_layers + 1

    @property
    def out_activation_(self) -> str:
        """The output layer: "softmax", "logistic" or "identity"."""
        check_is_fitted(self, "network_")
        return self.network_.output

    def _new_input_scaler(self, X, comm=None, sample_weight=None):
        """A StandardScaler fitted on X (weighted; on every rank's X, with an MPI communicator), its
        scale per feature or common (see ``input_scaling``), or None without scaling."""
        how = "auto" if self.input_scaling is True else self.input_scaling  # checked by _check_settings
        if how in (False, None, "none"):
            return None
        scaler = _standard_scaler(X, sample_weight)
        if comm is not None:
            from ..scale.shards import pool_scaler

            pool_scaler(scaler, comm)
        varying = scaler.var_ > 0
        if how == "auto":
            # Indicator columns (only 0 and 1: one-hot categories, booleans) stay as they are, as
            # in scikit-learn's usual pipeline: standardising a rare category's column turns its
            # 1 into a huge input (30 for one row in 900), which the network then fits to noise
            # (issue 23: test R² 0.07, −0.08 and −0.34 on three splits of a 93-row table with text
            # columns; `python -m bench.tabular --only Cars93`: 0.72 with them left alone).
            indicators = _zero_one_columns(X, comm) & varying
            scaler.mean_[indicators] = 0.0
            scaler.scale_[indicators] = 1.0
            varying &= ~indicators
        if how == "auto" and varying.any():
            spread = np.sqrt(scaler.var_[varying])
            if spread.max() <= SAME_SCALE_RATIO * spread.min():
                # Features on comparable scales: their relative spread carries information (it is
                # what a raw-data model sees), so they share one scale, the root mean variance.
                scaler.scale_[varying] = np.sqrt(np.mean(scaler.var_[varying]))
        return scaler

    @staticmethod
    def _scaled(X: np.ndarray, scaler, in_place: bool = False) -> np.ndarray:
        """X as the network sees it: standardised by `scaler` (if any), in X's dtype, C-ordered:
        StandardScaler.transform's arithmetic (its mean and scale cast to X's dtype), done here
        without its checks, which X has passed already, in training and in prediction alike.
        `in_place`: X is a C-ordered copy of this fit's own (made by the conversion), scaled where it is."""
        if scaler is None:
            return X
        mean, scale = _cast_scaling(scaler, X.dtype)
        if in_place:
            X -= mean
        else:  # (the difference is the copy: one pass fewer than copying, then subtracting)
            X = np.subtract(X, mean, order="C")
        X /= scale
        return X

    def _validation_score(self, validation_error: float) -> float:
        """The validation score recorded per epoch: accuracy (1 − error rate) for classifiers."""
        return validation_error

    @staticmethod
    def _best_validation(scores: List[float]) -> float:
        """The best of the validation scores: the lowest validation loss (the classifier's highest accuracy)."""
        return min(scores)

    # ------------------------------------------------------------------ prediction

    @serialised
    def _forward(self, X) -> np.ndarray:
        """The network's output for X: computed in the network's dtype, returned in float32 only
        when both X and the network are float32 (float32 stays float32; all else is float64)."""
        if not hasattr(self, "network_"):
            check_is_fitted(self, "network_")
        network = self.network_
        keep_float32 = getattr(X, "dtype", None) == np.float32 and network.dtype == np.float32
        scaler = getattr(self, "input_scaler_", None)
        checked = self._checked_array(X)
        if checked is None:  # anything else takes scikit-learn's checks, and their messages
            checked = validate_data(self, X, reset=False, dtype=network.dtype, order="C")
        # The engine scales each row as it reads it: StandardScaler.transform's arithmetic, as _scaled's.
        mean, scale = _cast_scaling(scaler, network.dtype) if scaler is not None else (None, None)
        out = network._forward(checked, None, mean, scale)
        return out if keep_float32 else out.astype(np.float64, copy=False)

    def _checked_array(self, X) -> Optional[np.ndarray]:
        """X in the network's dtype when it is what validate_data would pass unchanged in meaning,
        checked here at a fraction of its cost (the one-row predict of a served model): a NumPy
        array of real numbers, 2-D, finite, with the fitted number of features, and a model fitted
        without feature names. Otherwise None."""
        if type(X) is not np.ndarray or X.ndim != 2 or X.dtype.kind not in "fiu" or X.shape[0] == 0 \
                or X.shape[1] != getattr(self, "n_features_in_", -1) or hasattr(self, "feature_names_in_"):
            return None
        dtype = self.network_.dtype
        if np.can_cast(X.dtype, dtype, "same_kind") and X.dtype.itemsize <= dtype.itemsize or X.dtype.kind in "iu":
            converted = np.ascontiguousarray(X, dtype=dtype)  # nothing can overflow (no costly errstate)
        else:
            with np.errstate(over="ignore"):  # out of range: not finite below, and validate_data says so
                converted = np.ascontiguousarray(X, dtype=dtype)
        # (NaN and infinity survive the conversion; a finite value too large for the dtype becomes
        # infinite: one check of the converted array sees all three.)
        return converted if all_finite(converted) else None

    # ------------------------------------------------------------------ scikit-learn plumbing

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    # ------------------------------------------------------------------ model files

    @serialised
    def save(self, path: PathLike) -> None:
        """Write this fitted estimator to a model file (see :func:`fnn.load`), atomically.

        The file holds the estimator's parameters, its fitted attributes and its network; no
        pickle is used. Pickling the estimator (scikit-learn's convention) works as well. To save
        it with the transformers in front of it, save the ``Pipeline`` with :func:`fnn.save`.
        """
        check_is_fitted(self, "network_")
        metadata, arrays = self._file_contents()
        write_model(path, type(self).__name__, metadata, arrays)

    def _file_contents(self) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        """(JSON-able metadata, arrays) describing this fitted estimator in a model file."""
        network, arrays = self.network_._file_contents(prefix="network/")
        params = {}
        for name, value in self.get_params(deep=False).items():
            params[name] = _plain(value, name, type(self).__name__)
        fitted = {name: getattr(self, name) for name in self._FITTED if hasattr(self, name)}
        fitted["n_features_in_"] = int(fitted["n_features_in_"])
        for name in self._CURVES:  # arrays, not JSON: they grow with every epoch and partial_fit
            if fitted.get(name) is not None:
                arrays[f"fitted/{name}"] = curve_array(fitted.pop(name))
        if hasattr(self, "feature_names_in_"):
            arrays["feature_names_in_"] = np.asarray(self.feature_names_in_, dtype=str)
        extras, more_arrays = self._private_state()
        arrays.update(more_arrays)
        scaler = getattr(self, "input_scaler_", None)
        if scaler is not None:
            for name in ("mean_", "scale_", "var_"):
                arrays[f"input_scaler/{name}"] = np.asarray(getattr(scaler, name), dtype=np.float64)
            arrays["input_scaler/n_samples_seen_"] = np.asarray(scaler.n_samples_seen_, dtype=np.int64)
        return {"params": params, "fitted": fitted, "extras": extras, "network": network}, arrays

    def _private_state(self) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        """Subclass state beyond the common fitted attributes: JSON values and arrays."""
        return {}, {}

    def _restore_private_state(self, path, extras: Dict[str, Any], arrays: Dict[str, np.ndarray]) -> None:
        pass

    #: Fitted attributes a model file restores, each with the check its value must pass.
    _FITTED = {
        "n_features_in_": lambda v: _count(v) and v >= 1,
        "loss_curve_": lambda v: _numbers(v),
        "validation_scores_": lambda v: v is None or _numbers(v),
        "validation_loss_curve_": lambda v: _numbers(v),
        "n_iter_": lambda v: _count(v),
        "best_epoch_": lambda v: _count(v),
        "t_": lambda v: _count(v),
        "target_name_": lambda v: isinstance(v, str),
        "best_loss_": lambda v: v is None or _numbers([v]),
        "best_validation_score_": lambda v: v is None or _numbers([v]),
    }
    #: Fitted attributes a model file may leave out (those of older files among them).
    _OPTIONAL = ("target_name_", "best_loss_", "best_validation_score_")
    #: Fitted curves, stored as arrays ``fitted/<name>`` (as JSON lists in files of format version 1).
    _CURVES = ("loss_curve_", "validation_loss_curve_", "validation_scores_")

    @classmethod
    def _from_file(cls, path, header, arrays):
        for key in ("params", "fitted", "extras"):
            require(isinstance(header.get(key, {}), dict), path, f"{key} is not a mapping")
        fitted = dict(header.get("fitted", {}))
        for name in cls._CURVES:
            if f"fitted/{name}" in arrays:
                require(name not in fitted, path, f"fitted attribute {name} is stored twice")
                try:
                    fitted[name] = curve_list(arrays[f"fitted/{name}"], f"fitted attribute {name}")
                except TypeError as error:
                    raise ModelFileError(f"{path}: {error}") from None
        for name, value in fitted.items():
            require(name in cls._FITTED, path, f"unknown fitted attribute {name!r}")
            require(cls._FITTED[name](value), path, f"fitted attribute {name} has an invalid value")
        missing = set(cls._FITTED) - set(fitted) - set(cls._OPTIONAL)
        require(not missing, path, f"fitted attributes {sorted(missing)} are missing")
        params = {name: _unplain(value) for name, value in header["params"].items()}
        if "solver" not in params:  # written before solvers: trained, and goes on training, by plain SGD
            params.update(solver="sgd", momentum=0.0)
        unknown = sorted(set(params) - set(cls._get_param_names()))
        require(not unknown, path, f"{cls.__name__} has no parameter(s) {unknown}")
        estimator = cls(**params)
        try:  # every setting checked as fit would, before anything is built (bfloat16's own checks apart:
            # whether this machine runs it is for predict and fit to say)
            checked = estimator if not estimator._bfloat16() else clone(estimator).set_params(dtype="float32")
            checked._check_settings()
            checked._hidden_widths()
            resolve_activation(checked.activation)
        except (ValueError, TypeError) as error:
            raise ModelFileError(f"{path}: a parameter of the {cls.__name__} is invalid: {error}") from None
        estimator.network_ = Network._from_file_contents(path, header["network"], arrays, prefix="network/")
        for name, value in fitted.items():
            setattr(estimator, name, value)
        require(estimator.network_.widths[0] == estimator.n_features_in_, path,
                "the network's input width differs from n_features_in_")
        if "feature_names_in_" in arrays:
            names = arrays["feature_names_in_"]
            require(names.dtype.kind == "U" and names.shape == (estimator.n_features_in_,), path,
                    "feature_names_in_ must hold one name per feature")
            estimator.feature_names_in_ = names.astype(object)
        estimator._restore_private_state(path, header.get("extras", {}), arrays)
        estimator.input_scaler_ = _input_scaler_from(path, arrays, estimator.n_features_in_)
        history = estimator.network_.history_
        estimator.history_ = history
        return estimator


class _FitPlan(NamedTuple):
    """What FNNEstimator._plan_fit prepared for one fit."""

    X: np.ndarray  # checked, scaled, C-ordered, in the network's dtype
    y: Any  # as checked (labels or numbers), for the post-fit checks
    targets: np.ndarray  # encoded for the network
    weights: Optional[np.ndarray]
    settings: TrainingSettings
    scaler: Any
    target_state: Dict[str, Any]
    target_name: Any
    continuing: bool
    network: Network
    curves: Tuple[list, list, Optional[list]]
    first_epoch: int
    seen: int


#: Targets beyond this magnitude have squares beyond float64's range (R², squared errors).
LARGEST_TARGET = 1e150


def _check_targets(y, numeric: bool) -> None:
    """A ValueError naming the first target that is NaN or infinite, or (regression) too large."""
    try:
        given = np.asarray(y)
    except (TypeError, ValueError):
        return  # scikit-learn's checks say what is wrong
    if given.dtype.kind not in "fiub" or (not numeric and given.dtype.kind != "f"):
        return  # labels, text, complex numbers: scikit-learn's checks
    values = given.astype(np.float64)
    if values.size == 0:
        return
    rows = values.reshape(len(values), -1)
    if not np.isfinite(rows).all():
        row = int(np.flatnonzero(~np.isfinite(rows).all(axis=1))[0])
        raise ValueError(f"y contains NaN or infinity (first: row {row}, value {rows[row].tolist()}): every sample "
                         "needs a finite target; drop those rows")
    if numeric and float(np.abs(rows).max()) > LARGEST_TARGET:
        row = int(np.argmax(np.abs(rows).max(axis=1)))
        raise ValueError(f"y has targets up to {float(np.abs(rows).max()):.3g} (row {row}): beyond {LARGEST_TARGET:g} "
                         "their squares overflow float64; divide the target by a unit (and the predictions back)")


def _check_finite(X: np.ndarray, given, what: str, dtype) -> None:
    """A ValueError naming the first entry of X that is NaN or infinite (in the given table's terms:
    row, column name), or beyond `dtype`'s range where the given value was finite."""
    if all_finite(X):
        return
    row, column = first_non_finite(X)
    name = repr(str(given.columns[column])) if hasattr(given, "columns") else str(column)
    original = given.iloc[row, column] if hasattr(given, "iloc") else np.asarray(given)[row, column]
    try:
        original = float(original)
    except (TypeError, ValueError):
        original = float("nan")
    if np.isfinite(original):
        raise ValueError(f"{what} has values beyond the range of {np.dtype(dtype).name} (first: row {row}, column "
                         f"{name}: {original:.3g}); scale that column, or use dtype='float64'")
    raise ValueError(f"{what} contains NaN or infinity (first: row {row}, column {name}: {original}); impute or drop "
                     "those rows (fnn.with_preprocessing imputes missing values)")


def _refuse_text_columns(X) -> None:
    """A DataFrame with text columns gets a message that says what to do, not a float conversion
    error about one of its cells."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return
    text = [str(name) for name, dtype in zip(X.columns, dtypes) if dtype.kind in "OSUT" or
            str(dtype) in ("category", "string", "str")]
    if text:
        raise ValueError(f"X has text column(s) {text[:5]}{' …' if len(text) > 5 else ''}: the estimator takes "
                         "numbers. "
                         "Put fnn.with_preprocessing(estimator) in front (it one-hot encodes text columns and imputes "
                         "missing values, and fnn.save stores it with the network)")


#: scaler → (dtype, its mean_ and scale_ arrays, both cast to that dtype), for _cast_scaling.
_CAST_SCALINGS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _cast_scaling(scaler, dtype) -> Tuple[np.ndarray, np.ndarray]:
    """The scaler's mean and scale in `dtype`, cast once per scaler and dtype (a one-row prediction
    would otherwise spend a fifth of its time casting them). fnn's scalers get their mean and scale
    before their first use and keep them; new arrays in their place are cast anew."""
    cast = _CAST_SCALINGS.get(scaler)
    if cast is None or cast[0] != dtype or cast[1] is not scaler.mean_ or cast[2] is not scaler.scale_:
        cast = (dtype, scaler.mean_, scaler.scale_, scaler.mean_.astype(dtype), scaler.scale_.astype(dtype))
        _CAST_SCALINGS[scaler] = cast
    return cast[3], cast[4]


def _input_scaler_from(path, arrays: Dict[str, np.ndarray], n_features: int):
    """The StandardScaler a model file stores (None if it stores none), every array checked."""
    names = ("mean_", "scale_", "var_", "n_samples_seen_")
    present = [f"input_scaler/{name}" in arrays for name in names]
    if not any(present):
        return None
    require(all(present), path, "the input scaling is incomplete")
    state = {name: arrays[f"input_scaler/{name}"] for name in names}
    for name in ("mean_", "scale_", "var_"):
        array = state[name]
        require(array.shape == (n_features,) and array.dtype == np.float64 and bool(np.isfinite(array).all()),
                path, f"input_scaler/{name} must hold {n_features} finite float64 values")
    require(bool((state["scale_"] > 0).all()) and bool((state["var_"] >= 0).all()), path,
            "the input scaling has a non-positive scale")
    seen = state["n_samples_seen_"]
    require(seen.dtype.kind in "iu" and seen.size >= 1 and bool((seen > 0).all()), path,
            "input_scaler/n_samples_seen_ must be positive")
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    scaler.mean_, scaler.scale_, scaler.var_ = state["mean_"], state["scale_"], state["var_"]
    scaler.n_samples_seen_ = int(seen) if seen.ndim == 0 else seen
    scaler.n_features_in_ = n_features
    return scaler


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _numbers(values) -> bool:
    return isinstance(values, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _plain(value, name: str, owner: str):
    """A constructor parameter as a JSON-able value (activations as tagged dictionaries)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Activation):
        return {"activation": activation_to_dict(value)}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    if isinstance(value, (list, tuple)):
        return {"sequence": [_plain(v, name, owner) for v in value], "tuple": isinstance(value, tuple)}
    if isinstance(value, dict):
        return {"mapping": [[_plain(k, name, owner), _plain(v, name, owner)] for k, v in value.items()]}
    raise ModelFileError(f"cannot save {owner}: parameter {name}={value!r} is not a plain value "
                         "(use an integer random_state, for instance)")


def _unplain(value):
    if isinstance(value, dict):
        if "activation" in value:
            return activation_from_dict(value["activation"])
        if "sequence" in value:
            items = [_unplain(v) for v in value["sequence"]]
            return tuple(items) if value.get("tuple") else items
        if "mapping" in value:
            return {_unplain(k): _unplain(v) for k, v in value["mapping"]}
        raise ValueError(f"unknown parameter encoding {sorted(value)}")
    return value


#: Bytes of the float64 block of rows of X that the passes over it below take at a time: their
#: temporaries stay about a MB however large X is (StandardScaler.fit makes a float64 copy of a
#: float32 X whole).
PASS_BYTES = 1 << 20


def _pass_rows(X: np.ndarray) -> int:
    return max(16, PASS_BYTES // (8 * max(1, X.shape[1])))


def _standard_scaler(X: np.ndarray, sample_weight=None):
    """A StandardScaler fitted on X (finite, checked) as StandardScaler.fit would fit it, with
    (weighted) means and variances summed in float64 a block of rows at a time: two passes over
    X and no copy of it."""
    from sklearn.preprocessing import StandardScaler

    n = X.shape[0]
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    total = float(n) if w is None else float(w.sum())

    rows = _pass_rows(X)

    def blocks():
        for first in range(0, n, rows):
            yield X[first:first + rows].astype(np.float64), (None if w is None else w[first:first + rows, None])

    mean = sum((b.sum(axis=0) if bw is None else (b * bw).sum(axis=0)) for b, bw in blocks()) / total
    squares, correction = np.zeros(X.shape[1]), np.zeros(X.shape[1])
    for b, bw in blocks():  # Σ w(x − x̄)², less the rounding of x̄ (Σ w(x − x̄))² / Σ w, as scikit-learn does
        b -= mean
        correction += b.sum(axis=0) if bw is None else (b * bw).sum(axis=0)
        b *= b
        squares += b.sum(axis=0) if bw is None else (b * bw).sum(axis=0)
    var = np.maximum((squares - correction ** 2 / total) / total, 0.0)
    scaler = StandardScaler()
    scaler.n_features_in_, scaler.n_samples_seen_ = X.shape[1], n if w is None else total
    scaler.mean_, scaler.var_ = mean, var
    # A feature whose variance is within rounding of 0 is constant: scale 1 (scikit-learn's rule).
    eps = np.finfo(np.float64).eps
    constant = var <= total * eps * var + (total * mean * eps) ** 2
    scaler.scale_ = np.where(constant, 1.0, np.sqrt(var))
    return scaler


def _zero_one_columns(X: np.ndarray, comm=None) -> np.ndarray:
    """A mask of the columns of X holding nothing but 0 and 1 (on every rank, with an MPI
    communicator)."""
    X = np.asarray(X)
    mask, rows = np.ones(X.shape[1], dtype=bool), _pass_rows(X)
    for first in range(0, X.shape[0], rows):
        block = X[first:first + rows]
        mask &= ((block == 0) | (block == 1)).all(axis=0)
    if comm is not None:
        mask = np.logical_and.reduce(comm.allgather(mask))
    return mask
