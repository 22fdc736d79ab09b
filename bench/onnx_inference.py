"""fnn's own prediction against onnxruntime running the model fnn exported: `python -m bench.onnx_inference`.

Two models: ``FNNClassifier()`` at its defaults fitted on raw digits (64-100-10, its input scaling
part of both), timed with ``predict_proba``; and a 784-256-256-10 ReLU/softmax ``fnn.Network``
(Fashion-MNIST's shape), timed with ``forward``. Each is exported with ``fnn.to_onnx`` and run by
an ``onnxruntime.InferenceSession`` (CPU provider, ``intra_op_num_threads`` = the thread count,
one inter-op thread) on the same float32 rows: 1 row (a served request), 64 rows and 10,000 rows,
on 1 and 2 threads. Before timing, each pair's outputs must agree within 1e-5. For each cell, fnn
and onnxruntime are served by two processes of their own (the idle threads of one would take a
core from the other in one process), which take turns: ``--rounds`` rounds of ``--seconds`` of
calls each, the order switched every round, a pause between turns for the other's threads to go
quiet. Turns a second apart see the same machine, which a shared VM's speed, drifting by a fifth
over minutes, does not give measurements minutes apart. The table gives medians of rows/s and the
median of the rounds' fnn ÷ onnxruntime.
"""

from __future__ import annotations

import argparse
import contextlib
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


def serve(name: str, contender: str, threads: int, rows: int, seconds: float) -> None:
    """One contender on one model: prints "ready", then rows/s of `seconds` of calls per line read."""
    import sys

    model, predict, pool = models()[name]
    X = pool[:rows]
    if contender == "fnn":
        set_threads(model, threads)
        call, argument = predict, X
    else:
        ort_session = session(fnn.to_onnx(model), threads)
        call, argument = partial(ort_session.run, [ort_session.get_outputs()[-1].name]), {"X": X}
    rate(call, argument, rows, 0.2)  # warm-up
    print("ready", flush=True)
    for _ in sys.stdin:
        print(rate(call, argument, rows, seconds), flush=True)


def measure(rounds: int, seconds: float = 0.3, pause: float = 0.05) -> List[dict]:
    import subprocess
    import sys

    results = []
    for name in models():
        for threads in THREADS:
            for rows in ROWS:
                with contextlib.ExitStack() as stack:  # closes the pipes and waits for the workers
                    workers = {}
                    for contender in ("fnn", "ort"):  # started one after the other: a start fits a model
                        workers[contender] = stack.enter_context(subprocess.Popen(
                            [sys.executable, "-m", "bench.onnx_inference", "--serve", name, contender, str(threads),
                             str(rows), str(seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
                        if workers[contender].stdout.readline().strip() != "ready":
                            raise SystemExit(f"the {contender} worker for {name} did not start")
                    rates: Dict[str, List[float]] = {"fnn": [], "ort": []}
                    for r in range(rounds):
                        for contender in (("fnn", "ort") if r % 2 == 0 else ("ort", "fnn")):
                            time.sleep(pause)
                            workers[contender].stdin.write("go\n")
                            workers[contender].stdin.flush()
                            rates[contender].append(float(workers[contender].stdout.readline()))
                results.append(dict(model=name, threads=threads, rows=rows, fnn=statistics.median(rates["fnn"]),
                                    ort=statistics.median(rates["ort"]),
                                    ratio=statistics.median(f / o for f, o in zip(rates["fnn"], rates["ort"]))))
    return results


def table(results: List[dict]) -> str:
    lines = ["| model | threads | rows per call | fnn rows/s | onnxruntime rows/s | fnn ÷ onnxruntime |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['model']} | {r['threads']} | {r['rows']:,} | {r['fnn']:,.0f} | {r['ort']:,.0f} | "
                     f"{r['ratio']:.2f}× |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=0.3, help="of calls per turn")
    parser.add_argument("--serve", nargs=5, metavar=("MODEL", "CONTENDER", "THREADS", "ROWS", "SECONDS"),
                        help="(internal) one contender's worker process")
    args = parser.parse_args(argv)
    if args.serve:
        name, contender, threads, rows, seconds = args.serve
        serve(name, contender, int(threads), int(rows), float(seconds))
        return
    check_agreement()
    import onnxruntime
    from threadpoolctl import threadpool_info

    cores = {i.get("internal_api"): i.get("architecture") for i in threadpool_info()}
    print(f"fnn {fnn.__version__}, onnxruntime {onnxruntime.__version__}, BLAS core types {cores}, "
          f"{args.rounds} rounds of {args.seconds} s each, medians")
    print(table(measure(args.rounds, args.seconds)))


if __name__ == "__main__":
    main()
