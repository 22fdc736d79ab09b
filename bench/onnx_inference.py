"""fnn's own prediction against onnxruntime running the model fnn exported: `python -m bench.onnx_inference`.

Two models: ``FNNClassifier()`` at its defaults fitted on raw digits (64-100-10, its input scaling
part of both), timed with ``predict_proba``; and a 784-256-256-10 ReLU/softmax ``fnn.Network``
(Fashion-MNIST's shape), timed with ``forward``. Each is exported with ``fnn.to_onnx`` and run by
an ``onnxruntime.InferenceSession`` (CPU provider, ``intra_op_num_threads`` = the thread count,
one inter-op thread) on the same float32 rows: 1 row (a served request), 64 rows and 10,000 rows,
on 1 and 2 threads. Before timing, each pair's outputs must agree within 1e-5. Each measurement
runs in a fresh process of its own (onnxruntime's and OpenMP's idle threads spin for a while after
a call, and would take a core from the other in one process), fnn and onnxruntime taking turns,
``--rounds`` rounds of 0.3 s of calls each; the table gives medians of rows/s and fnn ÷ ORT.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from functools import partial
from typing import Callable, Dict, List, Tuple

import numpy as np

import fnn

ROWS = (1, 64, 10_000)
THREADS = (1, 2)


def models() -> Dict[str, Tuple[object, Callable, np.ndarray]]:
    """name → (model, its prediction call, a pool of float32 rows to predict)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classifier = fnn.FNNClassifier(random_state=0).fit(X, y)
    rows = np.random.default_rng(0).normal(size=(10_000, 784)).astype(np.float32)
    network = fnn.Network([784, 256, 256, 10], "relu", "softmax", seed=0)
    digits = np.resize(X.astype(np.float32), (10_000, 64))
    return {"digits FNNClassifier() 64-100-10": (classifier, classifier.predict_proba, digits),
            "Network 784-256-256-10": (network, network.forward, rows)}


def session(proto, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def set_threads(model, threads: int) -> None:
    (model.network_ if hasattr(model, "network_") else model).n_threads = threads


def rate(call: Callable, argument, rows: int, seconds: float = 0.3) -> float:
    """rows/s of call(argument) repeated for about `seconds`."""
    calls, start = 0, time.perf_counter()
    while True:
        call(argument)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return rows * calls / elapsed


def check_agreement() -> None:
    """Every model's fnn and onnxruntime outputs agree within 1e-5, on every row count."""
    for name, (model, predict, pool) in models().items():
        ort_session = session(fnn.to_onnx(model), 1)
        output = ort_session.get_outputs()[-1].name  # y_hat, or the probabilities
        for rows in ROWS:
            X = pool[:rows]
            difference = float(np.abs(predict(X) - ort_session.run([output], {"X": X})[0]).max())
            if difference > 1e-5:
                raise SystemExit(f"{name}, {rows} rows: fnn and onnxruntime disagree by {difference:.3g}")


def measure_one(name: str, contender: str, threads: int, rows: int) -> float:
    """rows/s of one contender on one model, in this process (see main's --one)."""
    model, predict, pool = models()[name]
    X = pool[:rows]
    if contender == "fnn":
        set_threads(model, threads)
        call, argument = predict, X
    else:
        ort_session = session(fnn.to_onnx(model), threads)
        call, argument = partial(ort_session.run, [ort_session.get_outputs()[-1].name]), {"X": X}
    rate(call, argument, rows, 0.1)  # warm-up
    return rate(call, argument, rows)


def measure(rounds: int) -> List[dict]:
    import subprocess
    import sys

    results = []
    for name in models():
        for threads in THREADS:
            for rows in ROWS:
                rates: Dict[str, List[float]] = {"fnn": [], "ort": []}
                for _ in range(rounds):  # taking turns, each in a fresh process
                    for contender in rates:
                        done = subprocess.run([sys.executable, "-m", "bench.onnx_inference", "--one", name, contender,
                                               str(threads), str(rows)], capture_output=True, text=True, check=True)
                        rates[contender].append(float(done.stdout.split()[-1]))
                results.append(dict(model=name, threads=threads, rows=rows, fnn=statistics.median(rates["fnn"]),
                                    ort=statistics.median(rates["ort"])))
    return results


def table(results: List[dict]) -> str:
    lines = ["| model | threads | rows per call | fnn rows/s | onnxruntime rows/s | fnn ÷ onnxruntime |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['model']} | {r['threads']} | {r['rows']:,} | {r['fnn']:,.0f} | {r['ort']:,.0f} | "
                     f"{r['fnn'] / r['ort']:.2f}× |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", nargs=4, metavar=("MODEL", "CONTENDER", "THREADS", "ROWS"),
                        help="(internal) one measurement in this process; prints rows/s")
    args = parser.parse_args(argv)
    if args.one:
        name, contender, threads, rows = args.one
        print(measure_one(name, contender, int(threads), int(rows)))
        return
    check_agreement()
    import onnxruntime
    from threadpoolctl import threadpool_info

    cores = {i.get("internal_api"): i.get("architecture") for i in threadpool_info()}
    print(f"fnn {fnn.__version__}, onnxruntime {onnxruntime.__version__}, BLAS core types {cores}, "
          f"{args.rounds} rounds, medians")
    print(table(measure(args.rounds)))


if __name__ == "__main__":
    main()
