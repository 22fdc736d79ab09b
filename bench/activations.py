"""Every hidden activation of the chapter on the training kernels: `python -m bench.activations` (or
`python -m bench.run --activations`).

Samples/s of plain-SGD epochs for ReLU, tanh, PReLU (a slope per unit, and one shared), and maxout
with 2 pieces (twice the weights), on 784-128-10 at batch 1 and on 784-256-256-10 at batch 32, on
one thread and on two; each measurement in a fresh process, the activations taking turns, medians.
The throughput per weight (samples/s × parameters) is what compares maxout with the others. Checks
first that one thread and two give the same weights. Goals (issue 14): PReLU within 1.2× of ReLU's
samples/s and maxout within 1.2× of ReLU's throughput per weight, at batch 1 and 32.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

import fnn

ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "prelu": fnn.PReLU(), "prelu_shared": fnn.PReLU(shared=True),
               "maxout": fnn.Maxout(2)}
SHAPES = {1: ([784, 128, 10], 32768), 32: ([784, 256, 256, 10], 16384)}
GOAL = 1.2


def network(name: str, batch: int, threads: int, widths=None) -> fnn.Network:
    return fnn.Network(widths or SHAPES[batch][0], ACTIVATIONS[name], seed=0, n_threads=threads)


def rate(name: str, batch: int, threads: int, repeats: int, widths: List[int], n: int) -> float:
    """samples/s of one activation, in this process (median of `repeats` epochs after a warm-up)."""
    import time

    rng = np.random.default_rng(0)
    X = rng.random((n, widths[0]), dtype=np.float32)
    y = rng.integers(0, widths[-1], n)
    net = network(name, batch, threads, widths)
    fit = dict(batch_size=batch, max_epochs=1, validation_fraction=0, learning_rate=1e-3)
    net.fit(X[: n // 4], y[: n // 4], **fit)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        net.fit(X, y, **fit)
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def isolated(name: str, batch: int, threads: int, repeats: int) -> float:
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    widths, n = SHAPES[batch]
    command = [sys.executable, "-m", "bench.activations", "--one", name, str(batch), str(threads), str(repeats),
               "-".join(map(str, widths)), str(n)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    return float(result.stdout.split()[-1])


def check(batch: int, n: int = 512) -> None:
    """One thread and two must give the same weights after an epoch, for every activation."""
    widths, _ = SHAPES[batch]
    rng = np.random.default_rng(1)
    X = rng.random((n, widths[0]), dtype=np.float32)
    y = rng.integers(0, widths[-1], n)
    for name in ACTIVATIONS:
        weights = []
        for threads in (1, 2):
            net = network(name, batch, threads)
            net.fit(X, y, batch_size=batch, max_epochs=1, validation_fraction=0, learning_rate=1e-3)
            weights.append(net.parameters())
        for key, value in weights[0].items():
            if not np.array_equal(value, weights[1][key]):
                raise SystemExit(f"check failed: {name} at batch {batch}: 1 and 2 threads differ in {key}")


def run(rounds: int, repeats: int, log=print, batches=tuple(SHAPES)) -> List[Dict]:
    rows = []
    for batch in batches:
        check(batch)
        for threads in (1, 2):
            samples: Dict[str, List[float]] = {name: [] for name in ACTIVATIONS}
            for _ in range(rounds):
                for name in ACTIVATIONS:
                    samples[name].append(isolated(name, batch, threads, repeats))
            medians = {name: statistics.median(v) for name, v in samples.items()}
            sizes = {name: network(name, batch, 1).n_parameters for name in ACTIVATIONS}
            relu, relu_per_weight = medians["relu"], medians["relu"] * sizes["relu"]
            row = {"batch": batch, "threads": threads, **medians}
            rows.append(row)
            line = f"batch {batch:2d}, {threads} thread(s), {'-'.join(map(str, SHAPES[batch][0]))}: "
            parts = []
            for name, value in medians.items():
                ratio = relu / value if name != "maxout" else relu_per_weight / (value * sizes[name])
                parts.append(f"{name} {value / 1e3:.1f}k ({ratio:.2f}x{' per weight' if name == 'maxout' else ''})")
            goals = [("prelu", relu / medians["prelu"]), ("shared prelu", relu / medians["prelu_shared"]),
                     ("maxout", relu_per_weight / (medians["maxout"] * sizes["maxout"]))]
            log(line + ", ".join(parts) + "; goal ≤ 1.2x: "
                + ", ".join(f"{n} {'met' if r <= GOAL else 'missed'}" for n, r in goals))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.activations", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, nargs="*", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--one", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        name, batch, threads, repeats, widths, n = args.one
        print(rate(name, int(batch), int(threads), int(repeats), [int(m) for m in widths.split("-")], int(n)))
        return 0
    run(args.rounds, args.repeats, batches=tuple(args.batches))
    return 0


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.activations")
    sys.exit(main())
