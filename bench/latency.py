"""Prediction latency by batch size: `python -m bench.latency [--widths 64,64,10 784,256,256,10]`.

One thread, float32, a fresh network per architecture; for each number of rows the median wall
time of ``Network.forward`` over many calls. To compare two builds side by side, run this with
PYTHONPATH pointing at each in turn, alternating, a few rounds each (see the commit that added it).
Unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE first, as users' machines do."""

import argparse
import statistics
import time

import numpy as np

import fnn


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", nargs="+", default=["64,64,10", "64,100,10", "100,100,10", "784,256,256,10"])
    parser.add_argument("--rows", nargs="+", type=int, default=[1, 8, 32, 500, 20000])
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print("| widths | parameters | rows | µs per call |")
    print("|---|---|---|---|")
    for text in args.widths:
        widths = [int(w) for w in text.split(",")]
        net = fnn.Network(widths, "relu", "softmax", seed=0, n_threads=1)
        for n in args.rows:
            X = rng.normal(size=(n, widths[0])).astype(np.float32)
            net.forward(X)
            times = []
            for _ in range(300 if n < 100 else 50 if n < 1000 else 7):
                start = time.perf_counter()
                net.forward(X)
                times.append(time.perf_counter() - start)
            print(f"| {text} | {net.n_parameters} | {n} | {statistics.median(times) * 1e6:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.latency")
    raise SystemExit(main())
