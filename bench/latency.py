"""Prediction latency by batch size: `python -m bench.latency [--widths 64,64,10 784,256,256,10]`.

One thread, float32, a fresh network per architecture; for each number of rows the median wall
time of ``Network.forward`` over many calls. To compare two builds side by side, run this with
PYTHONPATH pointing at each in turn, alternating, a few rounds each (see the commit that added it).
`--estimators` adds the one-row predict of fitted estimators, their input checks included."""

import argparse
import statistics
import time

import numpy as np

import fnn


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", nargs="+", default=["64,64,10", "64,100,10", "100,100,10", "784,256,256,10"])
    parser.add_argument("--rows", nargs="+", type=int, default=[1, 8, 32, 500, 20000])
    parser.add_argument("--threads", nargs="+", type=int, default=[1], help="n_threads of the networks (default 1)")
    parser.add_argument("--estimators", action="store_true", help="also one-row predict of fitted estimators")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print("| widths | parameters | threads | rows | µs per call |")
    print("|---|---|---|---|---|")
    for text in args.widths:
        widths = [int(w) for w in text.split(",")]
        for threads in args.threads:
            net = fnn.Network(widths, "relu", "softmax", seed=0, n_threads=threads)
            for n in args.rows:
                X = rng.normal(size=(n, widths[0])).astype(np.float32)
                net.forward(X)
                times = []
                for _ in range(300 if n < 100 else 50 if n < 1000 else 7):
                    start = time.perf_counter()
                    net.forward(X)
                    times.append(time.perf_counter() - start)
                print(f"| {text} | {net.n_parameters} | {threads} | {n} | {statistics.median(times) * 1e6:.1f} |",
                      flush=True)
    if args.estimators:
        estimators()
    return 0


def median_microseconds(call, repeats: int = 2000) -> float:
    from .inference import rows_per_second

    return 1e6 / rows_per_second(call, 1, repeats)


def estimators() -> None:
    """One-row predict of fitted estimators (64-64-10 on digits, at their default thread counts),
    the input checks included: fnn's FNNClassifier with and without its input scaling, its Network,
    and scikit-learn's MLPClassifier. Goal (issue 14): the estimator under 20 µs."""
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    row = X[:1].copy()
    models = {
        "fnn.FNNClassifier (input_scaling='auto')": fnn.FNNClassifier((64,), max_epochs=5, random_state=0).fit(X, y),
        "fnn.FNNClassifier (input_scaling=None)": fnn.FNNClassifier((64,), max_epochs=5, random_state=0,
                                                                    input_scaling=None).fit(X, y),
        "sklearn MLPClassifier": MLPClassifier((64,), max_iter=5, random_state=0).fit(X, y),
    }
    print("\n| one row of 64 features (float64) | µs per predict |\n|---|---|")
    for name, model in models.items():
        print(f"| {name}.predict | {median_microseconds(lambda m=model: m.predict(row)):.1f} |", flush=True)
    network = models["fnn.FNNClassifier (input_scaling=None)"].network_
    print(f"| fnn.Network.predict | {median_microseconds(lambda: network.predict(row)):.1f} |", flush=True)


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.latency")
    raise SystemExit(main())
