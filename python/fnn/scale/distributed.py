"""Data-parallel training over MPI: ``mpiexec -n R python script.py``, each rank holding a shard of
the training rows.

Mini-batch steps (``batch_size`` B > 1, any optimiser) are the steps one process would make with
batch B: every rank draws the same permutation of all N rows (the generator is rank 0's), takes
the rows of each global batch that lie in its shard, sums their loss and gradient in the engine,
and one ``Allreduce`` adds the ranks' sums (in one buffer); every rank then applies the same
update to the same weights. The weights are therefore identical on all ranks, the same from run to
run for a given R, and equal to one process's with batch B up to the order of the sums (float
round-off): the only rounding that depends on R.

Per-sample steps (B = 1, Algorithm 4.1) cannot be split that way: each rank runs the per-sample
kernel over its own shard and the ranks average their weights (and the optimiser's state) every
``average_every`` samples, local SGD with periodic model averaging, a different algorithm from
one process's (see docs/guide/scaling-out.md for its accuracy).

Decisions are collective: the training risk, the validation loss and error are sums over all
ranks, so early stopping, the restore of the best epoch, a divergence and the adaptive schedule
decide the same on every rank; rank 0 prints. An error that only some ranks see (bad input on one
shard, Ctrl-C, a bug) is exchanged before training, or else ends the whole job through
``MPI_Abort`` after the failing rank has printed it, so no rank hangs in a collective; mpiexec
ends the others when a process is killed.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from typing import Callable, List, Optional, Tuple

import numpy as np

from .._engine import core as _core
from ..core.history import History
from ..core.locking import lock_of
from ..core.validation import check_features, check_positive_int, check_sample_weight
from ..network import default_threads
from ..training.settings import NETWORK_FIT, TrainingSettings, settings_from
from ..training.training_loop import EVALUATION_CHUNK, Epoch, Training, TrainingDiverged, split, train

__all__ = ["fit", "fit_estimator", "shard", "load_npy_shard", "world", "CollectiveError"]


class CollectiveError(ValueError):
    """Raised on every rank when the checks of one or more ranks failed (the message says which)."""


def world():
    """``mpi4py.MPI.COMM_WORLD``; an ImportError saying how to install MPI when mpi4py is absent."""
    try:
        from mpi4py import MPI
    except ImportError as error:  # pragma: no cover - the mpi extra is installed in CI
        raise ImportError("fnn.scale.distributed needs mpi4py and an MPI library: pip install 'fnn[mpi]'") from error
    return MPI.COMM_WORLD


def shard(n_rows: int, comm=None) -> Tuple[int, int]:
    """This rank's rows [start, stop) of `n_rows` rows cut into comm.size nearly equal parts."""
    comm = world() if comm is None else comm
    n_rows = check_positive_int(n_rows, "n_rows")
    size, rank = comm.Get_size(), comm.Get_rank()
    if size > n_rows:
        raise ValueError(f"{size} ranks for {n_rows} rows: every rank needs at least one row")
    return rank * n_rows // size, (rank + 1) * n_rows // size


def load_npy_shard(path, comm=None) -> np.ndarray:
    """This rank's rows of the ``.npy`` file at `path`, memory-mapped: only they are read."""
    whole = np.load(path, mmap_mode="r")
    start, stop = shard(whole.shape[0], comm)
    return whole[start:stop]


def _agree(comm, problem: Optional[str], what: str) -> None:
    """Raise CollectiveError on every rank if any rank has a `problem` (None: none)."""
    problems = comm.allgather(problem)
    failed = [(rank, p) for rank, p in enumerate(problems) if p is not None]
    if failed:
        raise CollectiveError(f"{what} failed on {len(failed)} of {len(problems)} ranks: "
                              + "; ".join(f"rank {rank}: {p}" for rank, p in failed))


def _abort_on_local_error(comm, body: Callable):
    """Run body(); an exception that is not collective (raised on this rank alone) is printed and
    ends every rank through MPI_Abort, instead of leaving the others waiting in a collective."""
    try:
        return body()
    except (CollectiveError, TrainingDiverged):
        raise  # raised on every rank alike
    except BaseException as error:
        if comm.Get_size() == 1:
            raise
        sys.stderr.write(f"fnn.scale.distributed: rank {comm.Get_rank()} of {comm.Get_size()} failed, ending all "
                         f"ranks: {type(error).__name__}: {error}\n{traceback.format_exc()}")
        sys.stderr.flush()
        comm.Abort(1)
        raise  # pragma: no cover - Abort does not return


def fit_estimator(estimator, X, y, *, comm=None, callback=None):
    """Fit an FNNClassifier or FNNRegressor on the union of every rank's (X, y), all ranks calling
    this together: the input scaling and the regressor's target standardisation are fitted on all
    ranks' rows, the classifier's classes are all ranks' labels, and the network is trained by
    :func:`fit` with the estimator's settings (its ``batch_size`` the global batch). Every rank
    ends with the same fitted estimator; returns it. Its chance-level checks (FitWarning) are not
    made: they would look at one rank's rows. `callback(history)` after every epoch, on rank 0 (as
    for :func:`fit`)."""
    comm = world() if comm is None else comm

    def body():
        from sklearn.base import is_classifier  # (not fnn's classes: the estimators import this module)

        problem = None
        try:
            estimator._check_settings()
            checked_X, checked_y = estimator._validate_X_y(X, y, reset=True)
        except (ValueError, TypeError) as error:
            problem = f"{type(error).__name__}: {error}"
        _agree(comm, problem, "the checks of the estimator and the data")
        classes = None
        if is_classifier(estimator) and np.asarray(checked_y).ndim == 1:
            from .shards import global_labels

            classes = global_labels(np.asarray(checked_y), comm)
        return estimator._fit(checked_X, checked_y, None, incremental=False, classes=classes, comm=comm,
                              callback=callback)

    return _abort_on_local_error(comm, body)


def fit(net, X, y, *, comm=None, learning_rate: float = NETWORK_FIT.learning_rate, l2: float = NETWORK_FIT.l2,
        batch_size: int = 128, max_epochs: int = NETWORK_FIT.max_epochs, patience=NETWORK_FIT.patience,
        validation_fraction: float = NETWORK_FIT.validation_fraction, tol: float = NETWORK_FIT.tol,
        verbose: bool = False, sample_weight=None, optimiser: str = NETWORK_FIT.optimiser,
        momentum: float = NETWORK_FIT.momentum, beta_1: float = NETWORK_FIT.beta_1,
        beta_2: float = NETWORK_FIT.beta_2, epsilon: float = NETWORK_FIT.epsilon,
        schedule: str = NETWORK_FIT.schedule, power_t: float = NETWORK_FIT.power_t,
        step_epochs: int = NETWORK_FIT.step_epochs, step_factor: float = NETWORK_FIT.step_factor,
        shuffle: bool = True, clip_norm: Optional[float] = None, average_every: int = 1024,
        callback: Optional[Callable[[History], Optional[bool]]] = None, stop_on_training_loss: bool = False
        ) -> History:
    """Train `net` on the union of every rank's (X, y), all ranks calling this together.

    Parameters are those of :meth:`fnn.Network.fit` (with ``batch_size`` the global batch B, so
    each step's mean gradient is over B samples from all ranks; no divisibility is needed, since
    every global batch is a slice of one shared permutation), plus:

    comm : mpi4py communicator, default ``MPI.COMM_WORLD``
    stop_on_training_loss : bool, default False
        Without a validation set, stop after `patience` epochs that did not lower the (global)
        training risk by more than `tol`.
    average_every : int, default 1024
        With ``batch_size=1``: samples each rank trains on between two averagings of the
        weights (local SGD). Ignored for mini-batches.

    Every rank must build `net` with the same widths; its weights and generator are replaced by
    rank 0's before training, so all ranks start alike. ``validation_fraction`` is held out of
    each rank's shard (stratified there); the scores are over all ranks' held-out rows. The
    callback runs on rank 0; its answer stops every rank. Threads per rank: ``net.n_threads``, or
    the CPUs of this process shared among the ranks on the same machine.

    Returns the :class:`fnn.History` (the same on every rank; also ``net.history_``).

    Raises
    ------
    CollectiveError
        On every rank, when the settings or any rank's data fail their checks (each rank's
        problem named), or when R exceeds the number of training samples.
    TrainingDiverged
        On every rank, with the last finite weights restored on all.
    """
    comm = world() if comm is None else comm
    values = dict(locals())  # the settings, by name: checked on every rank, their problems exchanged
    with lock_of(net):
        return _abort_on_local_error(
            comm, lambda: _fit(net, X, y, comm, values, verbose, sample_weight, average_every, callback))


def fit_settings(net, X, y, s: TrainingSettings, *, comm, sample_weight=None, verbose: bool = False,
                 callback=None, average_every: int = 1024) -> History:
    """:func:`fit` with settings checked already (the estimators' way in)."""
    with lock_of(net):
        return _abort_on_local_error(
            comm, lambda: _fit(net, X, y, comm, s, verbose, sample_weight, average_every, callback))


def _fit(net, X, y, comm, settings, verbose, sample_weight, average_every, callback) -> History:
    """`settings`: a TrainingSettings, or the values to make one of (checked here, on every rank)."""
    size, rank = comm.Get_size(), comm.Get_rank()
    s, average_every, X, targets, weights = _checked_arguments(net, X, y, comm, settings, sample_weight,
                                                               average_every, callback)
    training = _start_alike(net, comm, s)
    train_rows, val_rows = _shard_split(net, targets, s, comm)
    counts = np.array(comm.allgather(train_rows.size), dtype=np.int64)
    n_total = int(counts.sum())
    _agree(comm, None if n_total >= size else f"{size} ranks for {n_total} training samples",
           "the sample count")
    offset = int(counts[:rank].sum())
    if weights is not None:
        weights = _mean_one_over_all_ranks(weights, train_rows, n_total, comm, net.dtype)

    from mpi4py import MPI

    local_ranks = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
    threads = net.n_threads or max(1, min(default_threads(), _core.openmp_thread_limit()) // local_ranks)
    engine = net._core()
    flat, grads = _gradient_buffer(net)
    averager = _Averager([a for name, a in training.arrays.items() if name != "optimiser.step"],
                         training.step_count, comm)

    def run_epoch(learning_rate: float) -> Epoch:
        order = net._rng.permutation(n_total) if s.shuffle else np.arange(n_total, dtype=np.int64)
        positions = np.flatnonzero((order >= offset) & (order < offset + train_rows.size))
        mine = train_rows[order[positions] - offset]  # this rank's rows, in the shared order
        del order
        clock = _Clock()
        if s.batch_size > 1:
            loss_sum = _mini_batch_epoch(engine, comm, X, targets, weights, mine, positions, n_total, s,
                                         learning_rate, threads, training, flat, grads, clock)
        else:
            loss_sum = _local_sgd_epoch(engine, comm, X, targets, weights, mine, counts, average_every, s,
                                        learning_rate, threads, training, averager, clock)
        return Epoch(loss_sum, n_total, not math.isfinite(loss_sum), clock.communication)

    validate = None
    if val_rows is not None:
        def validate():
            return _validation(net, engine, comm, X, targets, weights, val_rows, threads)

    def decided_by_rank_0(history):
        return comm.bcast(bool(callback(history)) if rank == 0 else None, root=0)

    # Rank 0's callback decides for all (the other ranks' are not called, and may be None).
    has_callback = comm.bcast(callback is not None if rank == 0 else None, root=0)
    return train(net, s, training, run_epoch, validate, bool(verbose) and rank == 0,
                 decided_by_rank_0 if has_callback else None,
                 where=" on every rank")


def _checked_arguments(net, X, y, comm, settings, sample_weight, average_every, callback):
    """The checks, exchanged: every rank raises the same CollectiveError naming each rank's problem.
    (settings, average_every, X, targets, weights) as checked."""
    problem = None
    try:
        s = settings if isinstance(settings, TrainingSettings) else settings_from(settings)
        average_every = check_positive_int(average_every, "average_every")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        X = check_features(X, net.widths[0], net.dtype)
        targets = net._targets(y, X.shape[0])
        weights = check_sample_weight(sample_weight, X.shape[0], net.dtype)
    except (ValueError, TypeError) as error:
        problem = f"{type(error).__name__}: {error}"
    _agree(comm, problem, "the checks of fit's arguments")
    shapes = comm.allgather((tuple(net.widths), [a.shape for a in net._parameters.values()],
                             net.dtype.name, weights is not None))
    _agree(comm, None if all(x == shapes[0] for x in shapes) else
           f"networks or sample weights differ between ranks: {shapes}", "the network check")
    return s, average_every, X, targets, weights


def _start_alike(net, comm, s: TrainingSettings) -> Training:
    """Rank 0's weights, optimiser state (kept from an earlier fit) and generator everywhere."""
    training = Training(net, s)
    for array in training.arrays.values():
        comm.Bcast(array, root=0)
    net._rng.bit_generator.state = comm.bcast(net._rng.bit_generator.state, root=0)
    return training


def _shard_split(net, targets, s: TrainingSettings, comm):
    """(training rows, validation rows or None) of this rank's shard: each shard split by a
    generator of its own rank, seeded from the shared one (one draw on every rank, so the shared
    generators stay together; none without a split, so that the permutations are those one
    process would draw)."""
    train_rows = np.arange(targets.shape[0], dtype=np.int64)
    val_rows = None
    problem = None
    if s.validation_fraction > 0:
        split_seed = int(net._rng.integers(2**62))
        try:
            is_val = split(net, targets, s.validation_fraction, np.random.default_rng([split_seed, comm.Get_rank()]))
            train_rows, val_rows = np.flatnonzero(~is_val), np.flatnonzero(is_val)
        except ValueError as error:
            problem = str(error)
    _agree(comm, problem, "the validation split")
    return train_rows, val_rows


def _mean_one_over_all_ranks(weights, train_rows, n_total: int, comm, dtype):
    """The sample weights rescaled to mean 1 over all ranks' training rows, as one process makes them."""
    from mpi4py import MPI

    local = np.array([weights[train_rows].astype(np.float64).sum()])
    comm.Allreduce(MPI.IN_PLACE, local)
    if local[0] <= 0:
        raise CollectiveError("sample_weight is 0 on all training rows")
    weights = weights.copy()
    weights[train_rows] = (weights[train_rows] * (n_total / local[0])).astype(dtype)
    return weights


def _gradient_buffer(net):
    """One buffer for a step's gradient sums and its loss (one Allreduce per step), and views of it
    shaped like the parameters."""
    parameter_sizes = [a.size for a in net._parameters.values()]
    flat = np.zeros(sum(parameter_sizes) + 1, dtype=np.float64 if net.dtype == np.float64 else np.float32)
    grads, start = [], 0
    for array, n_entries in zip(net._parameters.values(), parameter_sizes):
        grads.append(flat[start:start + n_entries].reshape(array.shape))
        start += n_entries
    return flat, grads


def _mini_batch_epoch(engine, comm, X, targets, weights, mine, positions, n_total, s, learning_rate, threads,
                      training, flat, grads, clock) -> float:
    """One epoch of global batches of s.batch_size rows; returns the loss summed over all ranks."""
    from mpi4py import MPI

    batch = s.batch_size
    # This rank's rows of global batch k are mine[bounds[k]:bounds[k + 1]].
    n_batches = -(-n_total // batch)
    bounds = np.searchsorted(positions, np.arange(n_batches + 1, dtype=np.int64) * batch)
    loss_sum = 0.0
    for k in range(n_batches):
        rows = mine[bounds[k]:bounds[k + 1]]
        if rows.size:
            flat[-1] = engine.loss_and_gradient_sums(X, targets, grads, batch, threads, weights, rows)
        else:
            flat[:] = 0
        waited = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, flat)
        clock.communication += time.perf_counter() - waited
        loss = float(flat[-1])
        if not math.isfinite(loss):
            return math.nan  # every rank sees the same sum, so every rank stops here
        loss_sum += loss
        engine.apply_gradient_sums(grads, min(batch, n_total - k * batch), training.update(learning_rate),
                                   training.first, training.second, training.step_count)
    return loss_sum


def _local_sgd_epoch(engine, comm, X, targets, weights, mine, counts, average_every, s, learning_rate, threads,
                     training, averaged, clock) -> float:
    """One epoch of per-sample SGD on each shard, the weights averaged every `average_every`
    samples (of the largest shard; smaller shards take proportionally fewer per round)."""
    rounds = max(1, -(-int(counts.max()) // average_every))
    cuts = np.linspace(0, mine.size, rounds + 1).round().astype(np.int64)
    loss_sum = 0.0
    for r in range(rounds):
        order = mine[cuts[r]:cuts[r + 1]]
        if order.size:
            result = training.epoch(engine, X, targets, order, learning_rate, threads, weights, batch_size=1)
            loss_sum += math.nan if result.diverged else result.loss_sum
        waited = time.perf_counter()
        averaged.average()
        clock.communication += time.perf_counter() - waited
    from mpi4py import MPI

    return comm.allreduce(loss_sum, op=MPI.SUM)


class _Clock:
    """Seconds an epoch spent in collectives."""

    communication = 0.0


class _Averager:
    """Replaces arrays with their mean over the ranks, through one buffer (one Allreduce)."""

    def __init__(self, arrays: List[np.ndarray], step_count: np.ndarray, comm):
        self.arrays, self.step_count, self.comm = arrays, step_count, comm
        self.buffer = np.empty(sum(a.size for a in arrays), dtype=np.float64)

    def average(self) -> None:
        from mpi4py import MPI

        size = self.comm.Get_size()
        start = 0
        for a in self.arrays:
            self.buffer[start:start + a.size] = a.reshape(-1)
            start += a.size
        self.comm.Allreduce(MPI.IN_PLACE, self.buffer)
        self.buffer /= size
        start = 0
        for a in self.arrays:
            a.reshape(-1)[...] = self.buffer[start:start + a.size]
            start += a.size
        # t: the largest count of any rank, so every rank's Adam corrects its bias alike.
        self.step_count[()] = self.comm.allreduce(int(self.step_count), op=MPI.MAX)


def _validation(net, engine, comm, X, targets, weights, val_rows, threads) -> Tuple[float, float]:
    """The validation loss and error (error rate, or the loss for regression) over all ranks."""
    from mpi4py import MPI

    totals = np.zeros(3)  # loss sum, weight (or count), wrong weight
    if val_rows.size:
        y_hat = np.empty((val_rows.size, net.widths[-1]), dtype=net.dtype)
        engine.predict(X, y_hat, EVALUATION_CHUNK, threads, val_rows)
        w = None if weights is None else weights[val_rows].astype(np.float64)
        totals[0] = engine.loss_sum(X, targets, EVALUATION_CHUNK, threads, weights, val_rows)
        totals[1] = val_rows.size if w is None else w.sum()
        if net.output_layer.classifies:
            wrong = net.output_layer.wrong(y_hat, targets[val_rows])
            totals[2] = wrong.sum() if w is None else (wrong * w).sum()
    comm.Allreduce(MPI.IN_PLACE, totals)
    loss = totals[0] / totals[1] if totals[1] > 0 else math.nan
    error = totals[2] / totals[1] if net.output_layer.classifies and totals[1] > 0 else loss
    return float(loss), float(error)
