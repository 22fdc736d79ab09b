"""Scenarios for tests/test_distributed.py, run as ``mpiexec -n R python tests/mpi_scenarios.py NAME``.

Rank 0 prints one line ``RESULT <json>`` for each rank (what the test compares across ranks and
against one process), or the scenario fails as it intends.
"""

import json
import os
import signal
import sys
import time

import numpy as np
from mpi4py import MPI

import fnn
import fnn.scale.distributed as distributed

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()


def data(n=600, features=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 0).astype(int) + (X[:, 3] > 1).astype(int)
    return X, y


def report(**values):
    """Every rank's values, printed by rank 0 a line each (lines of several processes can
    interleave in mpiexec's output)."""
    gathered = comm.gather(values, root=0)
    if rank == 0:
        for each in gathered:
            print("RESULT " + json.dumps(each), flush=True)


def weights_digest(net):
    return [float(np.float64(a).sum()) for a in net.parameters().values()] + [
        float(np.abs(np.float64(a)).max()) for a in net.parameters().values()]


def relative_difference(a, b):
    return max(float(np.abs(a[k] - b[k]).max() / np.abs(b[k]).max()) for k in b)


def equal_to_one_process():
    """Mini-batch steps on R ranks against one process with the same batch, every optimiser."""
    X, y = data()
    start, stop = distributed.shard(X.shape[0], comm)
    results = {}
    for optimiser in ("sgd", "momentum", "adam", "rmsprop"):
        settings = dict(batch_size=32, max_epochs=2, validation_fraction=0, optimiser=optimiser, learning_rate=0.02,
                        l2=1e-3)
        net = fnn.Network([12, 16, 3], "tanh", dtype="float64", seed=3)
        history = distributed.fit(net, X[start:stop], y[start:stop], comm=comm, **settings)
        one = fnn.Network([12, 16, 3], "tanh", dtype="float64", seed=3)
        one.fit(X, y, **settings)
        results[optimiser] = {"difference": relative_difference(net.parameters(), one.parameters()),
                              "digest": weights_digest(net), "risk": history.train_risk,
                              "risk_one": one.history_.train_risk}
    report(**results)


def early_stopping_float32():
    """Validation split on every shard, early stopping, the best epoch restored: same on all."""
    X, y = data(900)
    start, stop = distributed.shard(X.shape[0], comm)
    net = fnn.Network([12, 16, 3], "relu", seed=5)  # float32
    history = distributed.fit(net, X[start:stop], y[start:stop], comm=comm, batch_size=16, max_epochs=40,
                              patience=3, optimiser="adam", learning_rate=0.01, verbose=True)
    report(digest=weights_digest(net), best_epoch=history.best_epoch, epochs=history.n_epochs,
           validation_error=history.validation_error, stopped_early=history.stopped_early,
           accuracy=float(net.score(X, y)))


def local_sgd():
    """Per-sample SGD with the weights averaged every 50 samples."""
    X, y = data(900)
    start, stop = distributed.shard(X.shape[0], comm)
    net = fnn.Network([12, 16, 3], "relu", dtype="float64", seed=5)
    history = distributed.fit(net, X[start:stop], y[start:stop], comm=comm, batch_size=1, max_epochs=5,
                              validation_fraction=0, learning_rate=0.02, average_every=50)
    report(digest=weights_digest(net), risk=history.train_risk, accuracy=float(net.score(X, y)))


def estimators():
    """The estimators on shards: scaling, target standardisation and classes from every rank."""
    from sklearn.datasets import load_diabetes, load_digits

    X, y = load_digits(return_X_y=True)
    start, stop = distributed.shard(X.shape[0], comm)
    y_labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[y]
    shard_y = y_labels[start:stop]
    if rank == 1:
        shard_y = np.where(shard_y == "nine", "eight", shard_y)  # rank 1 sees no nines
    classifier = distributed.fit_estimator(fnn.FNNClassifier((32,), batch_size=32, random_state=0, max_epochs=30),
                                           X[start:stop], shard_y, comm=comm)
    Xr, yr = load_diabetes(return_X_y=True)
    start, stop = distributed.shard(Xr.shape[0], comm)
    regressor = distributed.fit_estimator(fnn.FNNRegressor((16,), batch_size=16, random_state=0, max_epochs=50),
                                          Xr[start:stop], yr[start:stop], comm=comm)
    report(classes=classifier.classes_.tolist(), accuracy=float(classifier.score(X, y_labels)),
           digest=weights_digest(classifier.network_), scaler_mean_error=float(
               # columns of only 0 and 1 over all ranks' rows are left as they are (mean 0)
               np.abs(classifier.input_scaler_.mean_ - np.where(((X == 0) | (X == 1)).all(axis=0) & (X.std(axis=0) > 0),
                                                                 0.0, X.mean(axis=0))).max()),
           target_mean_error=float(abs(regressor.target_mean_[0] - yr.mean())),
           target_scale_error=float(abs(regressor.target_scale_[0] - yr.std())), r2=float(regressor.score(Xr, yr)),
           regressor_digest=weights_digest(regressor.network_))


def bad_rank():
    """Rank 1's shard holds a NaN and, with another argument, the wrong number of features."""
    X, y = data()
    start, stop = distributed.shard(X.shape[0], comm)
    X = X[start:stop].copy()
    if rank == 1:
        X = X[:, :-1] if sys.argv[2:] == ["features"] else X
        X[0, 0] = np.nan
    net = fnn.Network([12, 8, 3], seed=1)
    try:
        distributed.fit(net, X, y[start:stop], comm=comm, max_epochs=1)
    except distributed.CollectiveError as error:
        report(error=str(error))


def too_many_ranks():
    X, y = data(2)
    net = fnn.Network([12, 8, 3], seed=1)
    try:
        distributed.fit(net, X[rank:rank + 1] if rank < 2 else X[:0], y[rank:rank + 1] if rank < 2 else y[:0],
                        comm=comm, validation_fraction=0)
    except distributed.CollectiveError as error:
        report(error=str(error))


def diverges():
    X, y = data()
    start, stop = distributed.shard(X.shape[0], comm)
    net = fnn.Network([12, 16, 3], "relu", seed=1)
    before = weights_digest(net)
    try:
        distributed.fit(net, X[start:stop] * 1e4, y[start:stop], comm=comm, batch_size=8, learning_rate=50.0,
                        validation_fraction=0)
    except fnn.TrainingDiverged as error:
        report(error=str(error), finite=bool(all(np.isfinite(a).all() for a in net.parameters().values())),
               changed=weights_digest(net) != before)


def one_rank_raises():
    """The callback (rank 0's) raises: every rank must end, not wait in a collective."""
    X, y = data(3000)
    start, stop = distributed.shard(X.shape[0], comm)

    def callback(history):
        raise RuntimeError("the callback failed on purpose")

    net = fnn.Network([12, 64, 3], seed=1)
    distributed.fit(net, X[start:stop], y[start:stop], comm=comm, batch_size=8, max_epochs=1000, callback=callback)


def killed():
    """Rank 1 is killed in the middle of training."""
    X, y = data(3000)
    start, stop = distributed.shard(X.shape[0], comm)
    net = fnn.Network([12, 64, 3], seed=1)
    epochs = []

    def callback(history):
        epochs.append(history.n_epochs)
        return False

    if rank == 1:
        signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGKILL))
        signal.setitimer(signal.ITIMER_REAL, 0.5)
    print(f"started {rank}", flush=True)
    distributed.fit(net, X[start:stop], y[start:stop], comm=comm, batch_size=8, max_epochs=100000,
                    validation_fraction=0, patience=np.inf)
    time.sleep(600)


def trains_long():
    """Trains until interrupted (the test sends Ctrl-C to mpiexec)."""
    X, y = data(3000)
    start, stop = distributed.shard(X.shape[0], comm)
    print(f"started {rank}", flush=True)
    distributed.fit(fnn.Network([12, 64, 3], seed=1), X[start:stop], y[start:stop], comm=comm, batch_size=8,
                    max_epochs=100000, validation_fraction=0, patience=np.inf)


if __name__ == "__main__":
    globals()[sys.argv[1]]()
