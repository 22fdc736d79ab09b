"""Batch inference, side by side: `python -m bench.inference` (or `python -m bench.run --inference`).

For 64-64-10 and 784-256-256-10 (ReLU, softmax output, float32, one thread), the rows per second
of ``fnn.Network.forward`` over 90,000 rows, of a PyTorch module with the same weights under
``torch.inference_mode`` (when PyTorch is installed) and of scikit-learn's MLPClassifier
``predict_proba`` with the same weights. Each first checks that its outputs equal fnn's (within
1e-5); the three then take turns, several rounds, medians reported. Goal (issue 14): fnn at least
1.5x PyTorch's rows/s on both.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Dict, List

import numpy as np

import fnn

GOAL = 1.5
WIDTHS = ([64, 64, 10], [784, 256, 256, 10])


def rows_per_second(call: Callable[[], object], rows: int, repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return rows / statistics.median(times)


def contenders(widths: List[int], X: np.ndarray) -> Dict[str, Callable[[], np.ndarray]]:
    net = fnn.Network(widths, "relu", "softmax", seed=0, n_threads=1)
    p = net.parameters()
    calls = {"fnn": lambda: net.forward(X)}
    try:
        import torch

        torch.set_num_threads(1)
        layers = []
        for l in range(1, len(widths)):
            linear = torch.nn.Linear(widths[l - 1], widths[l])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(p[f"weights_{l}"]))
                linear.bias.copy_(torch.from_numpy(p[f"biases_{l}"]))
            layers += [linear, torch.nn.ReLU()] if l < len(widths) - 1 else [linear, torch.nn.Softmax(dim=1)]
        module = torch.nn.Sequential(*layers).eval()
        tensor = torch.from_numpy(X)

        def with_torch():
            with torch.inference_mode():
                return module(tensor).numpy()

        calls["pytorch"] = with_torch
    except ImportError:
        pass
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(hidden_layer_sizes=widths[1:-1])
    mlp.coefs_ = [p[f"weights_{l}"].T.copy() for l in range(1, len(widths))]
    mlp.intercepts_ = [p[f"biases_{l}"].copy() for l in range(1, len(widths))]
    mlp.n_layers_, mlp.n_outputs_, mlp.out_activation_ = len(widths), widths[-1], "softmax"
    mlp.activation, mlp.n_features_in_ = "relu", widths[0]
    mlp.classes_ = np.arange(widths[-1])
    from sklearn.preprocessing import LabelBinarizer

    mlp._label_binarizer = LabelBinarizer().fit(mlp.classes_)
    calls["scikit-learn"] = lambda: mlp.predict_proba(X)
    return calls


def sgemm_roof(rows: int = 512, inner: int = 784, columns: int = 256, repeats: int = 50) -> float:
    """GFLOP/s of NumPy's float32 matrix product on one thread, at the shape of a chunk of rows
    through a 784-256 layer."""
    rng = np.random.default_rng(1)
    A = rng.random((rows, inner), dtype=np.float32)
    B = rng.random((inner, columns), dtype=np.float32)
    return 2 * rows * inner * columns * rows_per_second(lambda: A @ B, 1, repeats) / 1e9


def run(rows: int = 90_000, rounds: int = 5, repeats: int = 5, log=print) -> List[Dict]:
    from threadpoolctl import threadpool_limits

    from .environment import describe

    with threadpool_limits(1):  # NumPy's OpenBLAS (scikit-learn's products) on one thread too
        return _run(rows, rounds, repeats, log, describe())


def _run(rows, rounds, repeats, log, environment) -> List[Dict]:
    roof = sgemm_roof()
    log(f"inference: {rows:,} rows, float32, one thread, {rounds} rounds taking turns; one-thread sgemm roof "
        f"{roof:.1f} GFLOP/s (NumPy, 512x784 @ 784x256); {environment}")
    results = []
    for widths in WIDTHS:
        X = np.random.default_rng(0).normal(size=(rows, widths[0])).astype(np.float32)
        calls = contenders(widths, X)
        reference = calls["fnn"]()
        for name, call in calls.items():  # the check: the same outputs
            difference = float(np.abs(np.asarray(call(), dtype=np.float64) - reference).max())
            if difference > 1e-5:
                raise SystemExit(f"check failed: {name} differs from fnn by {difference:.3g} on {widths}")
        rates: Dict[str, List[float]] = {name: [] for name in calls}
        for _ in range(rounds):
            for name, call in calls.items():
                rates[name].append(rows_per_second(call, rows, repeats))
        medians = {name: statistics.median(r) for name, r in rates.items()}
        flops = 2 * sum(widths[l - 1] * widths[l] for l in range(1, len(widths)))
        row = {"widths": widths, "roof": roof, "fnn_gflops": medians["fnn"] * flops / 1e9, **medians}
        results.append(row)
        label = "-".join(map(str, widths))
        line = (f"{label:16s} fnn {medians['fnn'] / 1e6:6.2f}M rows/s ({row['fnn_gflops']:.0f} GFLOP/s, "
                f"{row['fnn_gflops'] / roof:.2f} of roof)")
        for name in calls:
            if name != "fnn":
                line += f"  {name} {medians[name] / 1e6:6.2f}M ({medians['fnn'] / medians[name]:.2f}x)"
        if "pytorch" in medians:
            ratio = medians["fnn"] / medians["pytorch"]
            line += f"  goal {GOAL}x PyTorch {'met' if ratio >= GOAL else 'missed'}"
        log(line + "  rounds fnn " + "/".join(f"{r / 1e6:.2f}" for r in rates["fnn"]))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=90_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    run(args.rows, args.rounds)
    return 0


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.inference")
    raise SystemExit(main())
