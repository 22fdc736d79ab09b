"""fnn's own prediction against onnxruntime running the model fnn exported: `python -m bench.onnx_inference`.

Two models: ``FNNClassifier()`` at its defaults fitted on raw digits (64-100-10, its input scaling
part of both), timed with ``predict_proba``; and a 784-256-256-10 ReLU/softmax ``fnn.Network``
(Fashion-MNIST's shape), timed with ``forward``. Each is exported with ``fnn.to_onnx`` and run by
an ``onnxruntime.InferenceSession`` (CPU provider, ``intra_op_num_threads`` = the thread count,
one inter-op thread) on the same float32 rows: 1 row (a served request), 64 rows and 10,000 rows,
on 1 and 2 threads. Before timing, each pair's outputs must agree within 1e-5. The two take turns,
``--rounds`` rounds of a fixed number of calls; the table gives medians of rows/s and fnn ÷ ORT.
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


def rate(call: Callable, argument, rows: int, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call(argument)
    return rows * calls / (time.perf_counter() - start)


def measure(rounds: int) -> List[dict]:
    results = []
    for name, (model, predict, pool) in models().items():
        proto = fnn.to_onnx(model)
        for threads in THREADS:
            set_threads(model, threads)
            ort_session = session(proto, threads)
            output = ort_session.get_outputs()[-1].name  # y_hat, or the probabilities
            for rows in ROWS:
                X = pool[:rows]
                feed = {"X": X}
                fnn_out, ort_out = predict(X), ort_session.run([output], feed)[0]
                if not np.allclose(fnn_out, ort_out, atol=1e-5):
                    raise SystemExit(f"{name}, {rows} rows: fnn and onnxruntime disagree by "
                                     f"{np.abs(fnn_out - ort_out).max():.3g}")
                calls = max(3, 20_000 // rows)
                fnn_rates, ort_rates = [], []
                for _ in range(rounds):  # taking turns
                    fnn_rates.append(rate(predict, X, rows, calls))
                    ort_rates.append(rate(partial(ort_session.run, [output]), feed, rows, calls))
                results.append(dict(model=name, threads=threads, rows=rows, fnn=statistics.median(fnn_rates),
                                    ort=statistics.median(ort_rates)))
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
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    import onnxruntime
    from threadpoolctl import threadpool_info

    cores = {i.get("internal_api"): i.get("architecture") for i in threadpool_info()}
    print(f"fnn {fnn.__version__}, onnxruntime {onnxruntime.__version__}, BLAS core types {cores}, "
          f"{args.rounds} rounds, medians")
    print(table(measure(args.rounds)))


if __name__ == "__main__":
    main()
