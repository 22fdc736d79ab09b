"""Algorithm 4.1's loop around the C++ epochs: the checks of a fit's arguments, the stratified
validation split, the epochs, early stopping, and the rollback of a divergence.

The functions take the :class:`fnn.Network` they train as their first argument and use its
engine, generator and parameter arrays directly: this module is the network's training, kept
apart from what the network is (section 4.3) and how it is stored.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ._engine import core as _core
from .early_stopping import EarlyStopping
from .history import History
from .optimisers import HYPER_PARAMETERS
from .schedules import Schedule
from .settings import TrainingSettings
from .validation import check_features, check_sample_weight, mean_one

#: Rows per forward pass when evaluating: bounds memory on large inputs.
EVALUATION_CHUNK = 512


class TrainingDiverged(FloatingPointError):
    """The training risk became NaN or infinite; the network holds the last finite weights."""


def prepare_fit(net, X, y, s: TrainingSettings, validation_data, sample_weight, callback):
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


def train(net, X, targets, weights, train_mask, X_val, targets_val, weights_val, val_rows, s: TrainingSettings,
          verbose, callback=None, record_gradient_norms=False, stop_on_training_loss=False,
          samples_seen=0) -> History:
    """The epoch loop. `train_mask` (None: all) marks the rows of X trained
    on; `val_rows`, the indices of the rows of X_val validated on (None: all). Without a
    validation set, `stop_on_training_loss` stops after `patience` epochs that did not lower the
    training risk by more than `tol` (the weights are then the last epoch's)."""
    engine = net._core()
    threads = net._threads()
    l2 = s.l2
    history = History()
    net.history_ = history
    schedule = Schedule(s)
    state = net._optimiser_state_for(s.optimiser)
    optimiser = _core.OptimiserSettings(kind=getattr(_core.Optimiser, s.optimiser), momentum=s.momentum,
                                        beta1=s.beta_1, beta2=s.beta_2, epsilon=s.epsilon,
                                        clip_norm=0.0 if s.clip_norm is None else s.clip_norm)
    # The engine reads t from the state's "step" array and advances it, also when Ctrl-C cuts an
    # epoch short.
    first, second = (None, None) if state is None else state.lists(net._parameters)
    step_count = None if state is None else state.arrays["step"]
    # The weights and the optimiser's state, rolled back together.
    trained = dict(net._parameters)
    if state is not None:
        trained.update({"optimiser." + name: array for name, array in state.arrays.items()})
    stopper = EarlyStopping(s.patience, s.tol) if X_val is not None else None
    loss_stopper = None
    if X_val is None and (stop_on_training_loss or s.schedule == "adaptive"):
        loss_stopper = EarlyStopping(s.patience, s.tol)
    last_finite = {name: p.copy() for name, p in trained.items()}
    n = X.shape[0] if train_mask is None else int(np.count_nonzero(train_mask))
    if record_gradient_norms:
        # Gradients over the training rows (a gathered copy: this diagnostic's own cost).
        X_train, targets_train, weights_train = X, targets, weights
        if train_mask is not None:
            X_train, targets_train = X[train_mask], targets[train_mask]
            weights_train = None if weights is None else weights[train_mask]
        history.gradient_norms.append(net._gradient_norms(X_train, targets_train, l2, weights_train))
    targets_for_error = targets_val if val_rows is None else targets_val[val_rows]
    train_seconds = 0.0
    def roll_back():
        for name, p in trained.items():
            np.copyto(p, last_finite[name])

    for epoch in range(1, s.max_epochs + 1):
        start = time.perf_counter()
        learning_rate = schedule.rate(epoch - 1, samples_seen)
        if train_mask is None:
            order = net._rng.permutation(n) if s.shuffle else np.arange(n, dtype=np.int64)
        else:  # the same draws and order as flatnonzero(train_mask)[permutation(n)], one index array
            order = np.flatnonzero(train_mask)
            if s.shuffle:
                net._rng.shuffle(order)
        result = engine.train_epoch(X, targets, order, learning_rate, l2, s.batch_size, threads, weights,
                                    optimiser, first, second, step_count)
        del order
        samples_seen += result.samples
        train_seconds += time.perf_counter() - start
        risk = result.loss_sum / max(result.samples, 1) + net._penalty(l2)
        if result.diverged or not math.isfinite(risk) or not parameters_finite(net):
            roll_back()
            raise TrainingDiverged(
                f"the training risk became NaN or infinite in epoch {epoch} (learning_rate={learning_rate}); "
                "the weights from before that epoch were restored. Try a smaller learning_rate, "
                "or scale the inputs (e.g. sklearn.preprocessing.StandardScaler).")
        history.train_risk.append(risk)
        history.learning_rate.append(learning_rate)
        stop = False
        if record_gradient_norms:
            history.gradient_norms.append(net._gradient_norms(X_train, targets_train, l2, weights_train))
        if X_val is not None:
            try:
                y_hat = net._forward(X_val, val_rows)
            except FloatingPointError:  # finite weights whose outputs overflow: diverged all the same
                roll_back()
                history.train_risk.pop()
                history.learning_rate.pop()
                if record_gradient_norms:
                    history.gradient_norms.pop()
                raise TrainingDiverged(
                    f"the network's outputs on the validation samples overflowed in epoch {epoch} "
                    f"(learning_rate={learning_rate}); the weights from before that epoch were restored. Try a "
                    "smaller learning_rate, or scale the inputs (e.g. sklearn.preprocessing.StandardScaler)."
                ) from None
            full_weights_val = weights if val_rows is not None else weights_val
            val_loss = engine.loss_sum(X_val, targets_val, EVALUATION_CHUNK, threads, full_weights_val, val_rows)
            val_loss /= y_hat.shape[0] if weights_val is None else float(weights_val.sum())
            val_error = (net.output_layer.error_rate(y_hat, targets_for_error, weights_val)
                         if net.output_layer.classifies else val_loss)
            history.validation_loss.append(val_loss)
            history.validation_error.append(val_error)
            stop = stopper.update(val_error, epoch, trained, val_loss)
        elif loss_stopper is not None:
            stop = loss_stopper.update(risk, epoch, {})
        if stop and schedule.plateau():  # adaptive: α / 5, and a new count of epochs
            stop = False
            (stopper or loss_stopper).epochs_without_improvement = 0
        for name, p in trained.items():
            np.copyto(last_finite[name], p)
        history.epoch_time.append(time.perf_counter() - start)
        if verbose:
            line = f"epoch {epoch:4d}  risk {risk:.6f}"
            if X_val is not None:
                line += (f"  val_error {history.validation_error[-1]:.4f}  "
                         f"val_loss {history.validation_loss[-1]:.6f}")
            print(line + f"  {history.epoch_time[-1] * 1e3:.1f} ms", flush=True)
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
    history.samples_per_second = n * history.n_epochs / train_seconds if train_seconds > 0 else float("inf")
    return history


def parameters_finite(net) -> bool:
    return all(np.isfinite(p).all() for p in net._parameters.values())
