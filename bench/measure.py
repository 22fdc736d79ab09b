"""Timing and correctness checks for one workload: fnn against its baselines, side by side.

Each timing runs in a fresh process (`isolated`): thread pools left spinning by one library
(OpenBLAS, PyTorch's OpenMP) would otherwise steal a core from the next measurement."""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List

import numpy as np

import fnn

from . import baseline_numpy, baseline_sklearn, baseline_torch
from .workloads import BY_ID, L2, LEARNING_RATE, Workload, scaled, synthetic_data


#: Set by `python -m bench.run --numpy-first`: every timed epoch starts right after a NumPy product,
#: as in a user's process (NumPy's OpenBLAS threads then spin for ~0.1 s beside the measurement).
NUMPY_FIRST = os.environ.get("FNN_BENCH_NUMPY_FIRST") == "1"


def numpy_product() -> None:
    """A user's NumPy work just before training: one 1000×1000 float64 product."""
    a = np.random.default_rng(0).random((1000, 1000))
    a @ a


def median_rate(run: Callable[[np.ndarray], None], n: int, repeats: int, seed: int = 1) -> float:
    """Median samples/s of `repeats` epochs of n samples (one untimed warm-up epoch first)."""
    rng = np.random.default_rng(seed)
    run(rng.permutation(n))
    time.sleep(0.3)  # let BLAS worker threads of the previous measurement stop spinning
    times = []
    for _ in range(repeats):
        order = rng.permutation(n)
        if NUMPY_FIRST:
            numpy_product()
        start = time.perf_counter()
        run(order)
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def make_network(workload: Workload, threads: int, dtype="float32") -> fnn.Network:
    return fnn.Network(workload.widths, "relu", "softmax", dtype=dtype, seed=0, n_threads=threads)


def engine_epoch(net: fnn.Network, learning_rate: float, l2: float, batch: int, threads: int):
    """engine_epoch(...)(X, targets, order): one epoch of plain SGD through `net`'s engine, as
    Network.fit calls it."""
    from fnn import _engine

    engine = net._core()
    try:
        settings = _engine.core.OptimiserSettings(learning_rate=learning_rate, l2=l2, batch_size=batch)
    except TypeError:  # a build from before the settings crossed the binding as one struct
        return lambda X, targets, order: engine.train_epoch(X, targets, order, learning_rate, l2, batch, threads)
    return lambda X, targets, order: engine.train_epoch(X, targets, order, settings, threads)


def fnn_epoch(net: fnn.Network, X: np.ndarray, y: np.ndarray, batch: int, threads: int):
    """A function running one fnn epoch over `order`: the engine call that Network.fit makes."""
    epoch = engine_epoch(net, LEARNING_RATE, L2, batch, threads)
    targets = net._targets(y, X.shape[0])
    X = np.ascontiguousarray(X, dtype=net.dtype)

    def run(order):
        result = epoch(X, targets, order)
        assert not result.diverged

    return run


def numpy_params(net: fnn.Network):
    p = net.parameters()
    weights = [p[f"weights_{l}"].copy() for l in range(1, net.n_layers + 1)]
    biases = [p[f"biases_{l}"].copy() for l in range(1, net.n_layers + 1)]
    return weights, biases


def check_same_epoch(workload: Workload, n: int, threads: int, dtype="float32", with_torch: bool = False) -> float:
    """Start fnn and the NumPy baseline (and PyTorch) from the same weights, run one epoch over the
    same sample order, and return the largest weight difference relative to the weights' scale.
    Raises AssertionError if they disagree beyond float rounding."""
    X, y = synthetic_data(workload, n, seed=2)
    net = make_network(workload, threads, dtype)
    weights, biases = numpy_params(net)
    torch_model = baseline_torch.TorchMLP(weights, biases, LEARNING_RATE, L2, threads) if with_torch else None
    order = np.random.default_rng(3).permutation(n)
    fnn_epoch(net, X, y, workload.batch, threads)(order)
    baseline_numpy.train_epoch(weights, biases, X.astype(dtype), y, order, LEARNING_RATE, L2, workload.batch)
    if torch_model is not None:
        torch_model.train_epoch(X, y, order, workload.batch)
    p = net.parameters()
    tolerance = 1e-4 if np.dtype(dtype) == np.float32 else 1e-10
    worst = 0.0
    for l, W in enumerate(weights, start=1):
        scale = float(np.abs(W).max())
        diff = float(np.abs(p[f"weights_{l}"] - W).max()) / scale
        assert diff < tolerance, f"{workload.id}: fnn and NumPy differ by {diff:.2e} in weights_{l}"
        worst = max(worst, diff)
        if torch_model is not None:
            tdiff = float(np.abs(torch_model.weights()[l - 1] - W).max()) / scale
            assert tdiff < tolerance, f"{workload.id}: PyTorch and NumPy differ by {tdiff:.2e} in weights_{l}"
    return worst


def time_fnn(workload: Workload, threads: int, repeats: int, dtype="float32") -> float:
    X, y = synthetic_data(workload, workload.samples)
    net = make_network(workload, threads, dtype)
    return median_rate(fnn_epoch(net, X, y, workload.batch, threads), workload.samples, repeats)


def time_numpy(workload: Workload, repeats: int, dtype="float32") -> float:
    X, y = synthetic_data(workload, workload.baseline_samples)
    weights, biases = numpy_params(make_network(workload, 1, dtype))
    X = X.astype(dtype)
    return median_rate(lambda order: baseline_numpy.train_epoch(weights, biases, X, y, order, LEARNING_RATE, L2,
                                                                workload.batch),
                       workload.baseline_samples, repeats)


def time_torch(workload: Workload, threads: int, repeats: int) -> float:
    X, y = synthetic_data(workload, workload.baseline_samples)
    weights, biases = numpy_params(make_network(workload, 1))
    model = baseline_torch.TorchMLP(weights, biases, LEARNING_RATE, L2, threads)
    return median_rate(lambda order: model.train_epoch(X, y, order, workload.batch), workload.baseline_samples,
                       repeats)


def time_sklearn(workload: Workload, repeats: int) -> float:
    X, y = synthetic_data(workload, workload.baseline_samples)
    model = baseline_sklearn.make(workload.widths, workload.batch, LEARNING_RATE, L2)
    classes = np.arange(workload.widths[-1])
    return median_rate(lambda order: baseline_sklearn.train_epoch(model, X[order], y[order], classes),
                       workload.baseline_samples, repeats)


def sgemm_roof(threads: int, size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of NumPy's float32 matrix product on `threads` threads: the compute roof."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    with threadpool_limits(threads):
        a @ b
        times: List[float] = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
    return 2 * size ** 3 / statistics.median(times) / 1e9


TIMERS = {
    "fnn": lambda w, threads, repeats, dtype: time_fnn(w, threads, repeats, dtype),
    "numpy": lambda w, threads, repeats, dtype: time_numpy(w, repeats, dtype),
    "pytorch": lambda w, threads, repeats, dtype: time_torch(w, threads, repeats),
    "sklearn": lambda w, threads, repeats, dtype: time_sklearn(w, repeats),
}


def isolated(kind: str, workload: Workload, scale: float, threads: int, repeats: int, dtype="float32",
             numpy_first: bool = False) -> float:
    """samples/s of `kind` on `workload`, measured in a fresh Python process (each timed epoch right
    after a NumPy product if `numpy_first`)."""
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
               FNN_BENCH_NUMPY_FIRST="1" if numpy_first else "0")
    command = [sys.executable, "-m", "bench.measure", kind, workload.id, str(scale), str(threads), str(repeats), dtype]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    return float(result.stdout.split()[-1])


def _main(argv) -> None:
    kind, workload_id, scale, threads, repeats, dtype = argv
    workload = BY_ID[workload_id]
    if float(scale) != 1.0:
        workload = scaled(workload, float(scale))
    print(TIMERS[kind](workload, int(threads), int(repeats), dtype))


if __name__ == "__main__":
    _main(sys.argv[1:])
