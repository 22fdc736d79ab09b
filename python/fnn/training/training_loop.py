"""Algorithm 4.1's loop around the C++ epochs: the checks of a fit's arguments, the stratified
validation split, the epochs, early stopping, and the rollback of a divergence.

The functions take the :class:`fnn.Network` they train as their first argument and use its
engine, generator and parameter arrays directly: this module is the network's training, kept
apart from what the network is (section 4.3) and how it is stored.
"""

from __future__ import annotations

import math
import time
from typing import Callable, List, NamedTuple, Optional, Tuple

import numpy as np

from .. import _bfloat16
from .._engine import core as _core
from ..core.history import History
from ..core.locking import lock_of
from ..core.validation import check_features, check_sample_weight, mean_one
from .early_stopping import EarlyStopping
from .optimisers import HYPER_PARAMETERS
from .schedules import Schedule
from .settings import TrainingSettings

#: Rows per forward pass when evaluating: bounds memory on large inputs.
EVALUATION_CHUNK = 512


class TrainingDiverged(FloatingPointError):
    """The training risk became NaN or infinite; the network holds the last finite weights."""


def fit_network(net, X, y, s: TrainingSettings, *, validation_data=None, sample_weight=None, callback=None,
                verbose: bool = False, record_gradient_norms: bool = False, samples_seen: int = 0,
                X_checked: bool = False) -> History:
    """The one in-memory fit, of :meth:`fnn.Network.fit` and the estimators: `net` trained on
    (X, y) by Algorithm 4.1 with the checked settings `s` (see Network.fit for the rest).
    `X_checked`: X is already a finite, C-ordered array of the network's dtype (the estimators
    check and scale it), so it is neither checked nor copied again."""
    with lock_of(net):
        rng_state = net._rng.bit_generator.state
        try:
            prepared = prepare_fit(net, X, y, s, validation_data, sample_weight, callback, X_checked)
        except BaseException:
            net._rng.bit_generator.state = rng_state  # a rejected call draws nothing
            raise
        X, targets, weights, train_mask, val_rows, X_val, targets_val, weights_val, settings = prepared
        net.training_settings_ = settings
        training = Training(net, s)
        run_epoch = in_memory_epochs(net, X, targets, weights, train_mask, s, training)
        validate = (None if X_val is None
                    else in_memory_validation(net, X_val, targets_val, weights, weights_val, val_rows))
        gradient_norms = None
        if record_gradient_norms:
            # Gradients over the training rows (a gathered copy: this diagnostic's own cost).
            X_train, targets_train, weights_train = X, targets, weights
            if train_mask is not None:
                X_train, targets_train = X[train_mask], targets[train_mask]
                weights_train = None if weights is None else weights[train_mask]

            def gradient_norms():
                return net._gradient_norms(X_train, targets_train, s.l2, weights_train)
        return train(net, s, training, run_epoch, validate, verbose, callback, gradient_norms, samples_seen)


def prepare_fit(net, X, y, s: TrainingSettings, validation_data, sample_weight, callback, X_checked=False):
    """Every check of fit's arguments (the settings `s` are checked already), and the
    validation split as row indices."""
    validation_fraction = s.validation_fraction
    settings = {"learning_rate": s.learning_rate, "l2": s.l2, "batch_size": s.batch_size,
                "max_epochs": s.max_epochs, "patience": s.patience, "tol": s.tol,
                "validation": "given" if validation_data is not None else validation_fraction,
                "sample_weight": sample_weight is not None, "optimiser": s.optimiser,
                **{name: getattr(s, name) for name in HYPER_PARAMETERS[s.optimiser]},
                "schedule": s.schedule, "shuffle": s.shuffle, "clip_norm": s.clip_norm}
    if s.schedule == "invscaling":
        settings["power_t"] = s.power_t
    elif s.schedule == "step":
        settings.update(step_epochs=s.step_epochs, step_factor=s.step_factor)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    if net.bfloat16:
        _bfloat16.check_fit(s.batch_size)
    if not X_checked:
        X = check_features(X, net.widths[0], net.dtype)
    targets = net._targets(y, X.shape[0])
    weights = check_sample_weight(sample_weight, X.shape[0], net.dtype)
    train_mask = val_rows = X_val = targets_val = weights_val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a tuple (X_val, y_val)")
        X_val = check_features(validation_data[0], net.widths[0], net.dtype, "X_val")
        targets_val = net._targets(validation_data[1], X_val.shape[0], "y_val")
    elif validation_fraction > 0:
        # X stays whole: the training rows are a mask and the validation rows indices into it.
        is_val = split(net, targets, validation_fraction)
        train_mask, val_rows = ~is_val, np.flatnonzero(is_val)  # a mask: the epochs make the indices
        X_val, targets_val = X, targets
        if weights is not None:
            weights_val = weights[val_rows]
            if weights[train_mask].sum() <= 0 or weights_val.sum() <= 0:
                raise ValueError("sample_weight is 0 on the whole training or validation part; "
                                 "give those samples positive weights or pass validation_data")
            # Mean 1 over the training rows; the validation rows' weights only ever form ratios.
            rescaled = weights.copy()
            rescaled[train_mask] = mean_one(weights[train_mask], net.dtype)
            weights = rescaled
    return X, targets, weights, train_mask, val_rows, X_val, targets_val, weights_val, settings


def split(net, targets, fraction, rng=None) -> np.ndarray:
    """A boolean mask of the rows held out for validation (draws from `rng`, by default the
    network's generator, only after every check has passed)."""
    rng = net._rng if rng is None else rng
    n = targets.shape[0]
    n_val = int(round(fraction * n))
    if n_val < 1 or n - n_val < 1:
        raise ValueError(f"validation_fraction={fraction} of {n} samples leaves an empty training or "
                         "validation set; pass validation_data or validation_fraction=0")
    stratifier = net.output_layer.stratifier(targets)
    if stratifier is None:
        val = rng.permutation(n)[:n_val]
    else:
        # Stratified (see OutputLayer.stratifier): each stratum contributes its share to the
        # validation set. (int32 strata, put in shuffled order a block at a time: a split of
        # millions of rows should not hold several index arrays as large as a column of X at once.)
        block = 1 << 16
        stratum_of, n_strata = stratifier
        order = rng.permutation(n)
        ordered = np.empty(n, dtype=np.int32)  # the stratum of each row, in shuffled order
        for first in range(0, n, block):
            rows = order[first:first + block]
            ordered[first:first + block] = stratum_of(rows)
        del stratum_of
        # The first round(fraction · count) members of each stratum in shuffled order, collected
        # a block at a time so that no array as long as the data is made per stratum.
        counts = sum(np.bincount(ordered[first:first + block], minlength=n_strata)
                     for first in range(0, n, block))  # (bincount copies its input to int64)
        wanted = np.rint(fraction * counts).astype(np.int64)
        taken = np.zeros_like(wanted)
        val_parts = []
        for first in range(0, n, block):
            if (taken >= wanted).all():
                break
            labels, rows = ordered[first:first + block], order[first:first + block]
            for c in np.flatnonzero(taken < wanted):
                chosen = rows[labels == c][:wanted[c] - taken[c]]
                val_parts.append(chosen)
                taken[c] += chosen.size
        del ordered
        val = np.concatenate(val_parts) if val_parts else order[:0]
        if val.size == 0 or val.size == n:
            val = order[:n_val]
    is_val = np.zeros(n, dtype=bool)
    is_val[val] = True
    return is_val


class Epoch(NamedTuple):
    """What one pass over the training samples reports to the loop."""

    loss_sum: float  # the per-sample losses summed (weighted), each before its own update
    samples: int
    diverged: bool = False  # a non-finite loss stopped the pass
    communication: Optional[float] = None  # seconds in collectives (data-parallel training)


class Training:
    """The optimiser of one fit and what rolls back together: the weights and the state."""

    def __init__(self, net, s: TrainingSettings):
        self.s = s
        self.state = net._optimiser_state_for(s.optimiser)
        # The engine reads t from the state's "step" array and advances it, also when Ctrl-C cuts
        # an epoch short.
        self.first: Optional[List[np.ndarray]] = None
        self.second: Optional[List[np.ndarray]] = None
        if self.state is not None:
            self.first, self.second = self.state.lists(net._parameters)
        self.step_count = np.zeros((), dtype=np.int64) if self.state is None else self.state.arrays["step"]
        self.arrays = dict(net._parameters)
        if self.state is not None:
            self.arrays.update({"optimiser." + name: array for name, array in self.state.arrays.items()})

    def update(self, learning_rate: float, batch_size: Optional[int] = None):
        """The engine's settings of an epoch's updates (one struct across the binding): the
        settings' rule, λ and batch size (or `batch_size`), with the schedule's α for the epoch."""
        s = self.s
        return _core.OptimiserSettings(kind=getattr(_core.Optimiser, s.optimiser), learning_rate=learning_rate,
                                       l2=s.l2, batch_size=s.batch_size if batch_size is None else batch_size,
                                       momentum=s.momentum, beta1=s.beta_1, beta2=s.beta_2, epsilon=s.epsilon,
                                       clip_norm=0.0 if s.clip_norm is None else s.clip_norm)

    def epoch(self, engine, X, targets, order, learning_rate: float, threads: int, weights=None,
              batch_size: Optional[int] = None):
        """One call of the engine's epoch over the rows `order`, the state carried in and out."""
        return engine.train_epoch(X, targets, order, self.update(learning_rate, batch_size), threads, weights,
                                  self.first, self.second, self.step_count)


def in_memory_epochs(net, X, targets, weights, train_mask, s: TrainingSettings, training: Training):
    """The epoch of Network.fit: the training rows of X (all, or those of `train_mask`) in a new
    shuffled order, through the engine's kernels."""
    engine, threads = net._core(), net._threads()
    n = X.shape[0] if train_mask is None else int(np.count_nonzero(train_mask))

    def run(learning_rate: float) -> Epoch:
        if train_mask is None:
            order = net._rng.permutation(n) if s.shuffle else np.arange(n, dtype=np.int64)
        else:  # the same draws and order as flatnonzero(train_mask)[permutation(n)], one index array
            order = np.flatnonzero(train_mask)
            if s.shuffle:
                net._rng.shuffle(order)
        result = training.epoch(engine, X, targets, order, learning_rate, threads, weights)
        return Epoch(result.loss_sum, result.samples, result.diverged)

    return run


def in_memory_validation(net, X_val, targets_val, weights, weights_val, val_rows):
    """The validation of Network.fit: (loss, error) on the validation rows of X_val, the error
    the error rate of a classifier, else the loss; FloatingPointError if the outputs overflow."""
    engine, threads = net._core(), net._threads()
    targets_for_error = targets_val if val_rows is None else targets_val[val_rows]
    full_weights_val = weights if val_rows is not None else weights_val

    def validate() -> Tuple[float, float]:
        y_hat = net._forward(X_val, val_rows)
        val_loss = engine.loss_sum(X_val, targets_val, EVALUATION_CHUNK, threads, full_weights_val, val_rows)
        val_loss /= y_hat.shape[0] if weights_val is None else float(weights_val.sum())
        val_error = (net.output_layer.error_rate(y_hat, targets_for_error, weights_val)
                     if net.output_layer.classifies else val_loss)
        return val_loss, val_error

    return validate


def train(net, s: TrainingSettings, training: Training, run_epoch: Callable[[float], Epoch],
          validate: Optional[Callable[[], Tuple[float, float]]] = None, verbose: bool = False, callback=None,
          gradient_norms: Optional[Callable[[], List[float]]] = None, samples_seen=0, where: str = "") -> History:
    """Algorithm 4.1's loop around `run_epoch(learning_rate)`, one pass over the training
    samples: the schedule, divergence and its rollback, validation by `validate()` (None: no
    validation set) with early stopping and the restore of the best epoch, progress and the
    callback. Without a validation set, `s.stop_on_training_loss` stops after `patience` epochs that
    did not lower the training risk by more than `tol` (the weights are then the last epoch's).
    `gradient_norms()` (optional) is recorded before training and after every epoch. `where` ends
    the messages of a divergence (" on every rank")."""
    history = History()
    net.history_ = history
    schedule = Schedule(s)
    trained = training.arrays  # the weights and the optimiser's state, rolled back together
    stopper = EarlyStopping(s.patience, s.tol) if validate is not None else None
    loss_stopper = None
    if validate is None and (s.stop_on_training_loss or s.schedule == "adaptive"):
        loss_stopper = EarlyStopping(s.patience, s.tol)
    last_finite = _LastFinite(trained)
    if gradient_norms is not None:
        history.gradient_norms.append(gradient_norms())
    train_seconds, trained_samples = 0.0, 0
    for epoch in range(1, s.max_epochs + 1):
        start = time.perf_counter()
        recorded = [(record, len(record)) for record in (history.train_risk, history.learning_rate,
                                                          history.gradient_norms, history.communication_time)]
        learning_rate = schedule.rate(epoch - 1, samples_seen)
        result = run_epoch(learning_rate)
        samples_seen += result.samples
        trained_samples += result.samples
        train_seconds += time.perf_counter() - start
        risk = result.loss_sum / max(result.samples, 1) + net._penalty(s.l2)
        if result.diverged or not math.isfinite(risk) or not parameters_finite(net):
            last_finite.restore()
            raise _diverged("the training risk became NaN or infinite", epoch, learning_rate, where)
        _record_epoch(history, risk, learning_rate, result, gradient_norms)
        stop = False
        if validate is not None and stopper is not None:  # (made together above)
            val_loss, val_error = _validated(validate, epoch, learning_rate, where, last_finite, recorded)
            history.validation_loss.append(val_loss)
            history.validation_error.append(val_error)
            stop = stopper.update(val_error, epoch, trained, val_loss)
        elif loss_stopper is not None:
            stop = loss_stopper.update(risk, epoch, {})
        stopping = stopper or loss_stopper
        if stop and stopping is not None and schedule.plateau():  # adaptive: α / 5, and a new count of epochs
            stop = False
            stopping.epochs_without_improvement = 0
        last_finite.keep()
        history.epoch_time.append(time.perf_counter() - start)
        if verbose:
            _print_progress(epoch, risk, history, validate is not None)
        stopped_by_callback = callback is not None and bool(callback(history))
        if stop:
            history.stopped_early = True
            break
        if stopped_by_callback:
            break
    if stopper is not None and stopper.best_epoch is not None:
        stopper.restore(trained)
        history.best_epoch = stopper.best_epoch
    else:
        history.best_epoch = history.n_epochs
    history.samples_per_second = trained_samples / train_seconds if train_seconds > 0 else float("inf")
    return history


class _LastFinite:
    """The weights and optimiser state after the last epoch that stayed finite, to roll back to."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.saved = {name: p.copy() for name, p in arrays.items()}

    def keep(self):
        for name, p in self.arrays.items():
            np.copyto(self.saved[name], p)

    def restore(self):
        for name, p in self.arrays.items():
            np.copyto(p, self.saved[name])


def _diverged(what: str, epoch: int, learning_rate: float, where: str) -> TrainingDiverged:
    return TrainingDiverged(
        f"{what} in epoch {epoch} (learning_rate={learning_rate}); the weights from before that epoch were "
        f"restored{where}. Try a smaller learning_rate, or scale the inputs "
        "(e.g. sklearn.preprocessing.StandardScaler).")


def _record_epoch(history: History, risk: float, learning_rate: float, result: Epoch, gradient_norms) -> None:
    history.train_risk.append(risk)
    history.learning_rate.append(learning_rate)
    if result.communication is not None:
        history.communication_time.append(result.communication)
    if gradient_norms is not None:
        history.gradient_norms.append(gradient_norms())


def _validated(validate, epoch: int, learning_rate: float, where: str, last_finite: _LastFinite,
               recorded) -> Tuple[float, float]:
    """(validation loss, error) of the epoch; on outputs that overflow (finite weights, diverged all
    the same) the epoch is undone, weights and records, and TrainingDiverged raised."""
    try:
        val_loss, val_error = validate()
        if not (math.isfinite(val_loss) and math.isfinite(val_error)):
            raise FloatingPointError
    except FloatingPointError:
        last_finite.restore()
        for record, length in recorded:  # the epoch did not happen
            del record[length:]
        raise _diverged("the network's outputs on the validation samples overflowed", epoch, learning_rate,
                        where) from None
    return val_loss, val_error


def _print_progress(epoch: int, risk: float, history: History, validated: bool) -> None:
    line = f"epoch {epoch:4d}  risk {risk:.6f}"
    if validated:
        line += f"  val_error {history.validation_error[-1]:.4f}  val_loss {history.validation_loss[-1]:.6f}"
    print(line + f"  {history.epoch_time[-1] * 1e3:.1f} ms", flush=True)


def parameters_finite(net) -> bool:
    return all(np.isfinite(p).all() for p in net._parameters.values())
