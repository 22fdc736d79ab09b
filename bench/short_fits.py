"""Short fits beside busy processes: `python -m bench.short_fits [--rounds 7]`.

Cross-validation and grid searches make a new estimator, hence a new network, for every fit;
small tables make those fits short (10–100 ms). A new network knows nothing of the machine, so
a thread team beside a busy process pays for its second thread until it notices. This starts
busy processes (one fewer than the cores, then cores + 1), and beside each load times fits of
a new network on P1, P2, P3 and the digits-sized network, at fnn's default thread count and at
``n_threads=1``, taking turns in one process; median of `--rounds`. Goal (issue 24): default ÷
one thread ≥ 0.9 on every fit of 10 ms or more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import List, Optional

import fnn

from .contended import busy_processes
from .workloads import BY_ID, synthetic_data

#: (workload id, samples per fit): fits of about 10–60 ms on this 2-core machine.
FITS = [("P1", 4000), ("P2", 40000), ("P3", 3200), ("D", 20000)]


def fit_seconds(widths, batch: int, threads: int, X, y) -> float:
    start = time.perf_counter()
    net = fnn.Network(widths, seed=0, n_threads=threads)
    net.fit(X, y, batch_size=batch, max_epochs=1, validation_fraction=0)
    return time.perf_counter() - start


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.short_fits", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loads", type=int, nargs="+", help="busy processes to start (default: cores − 1, cores + 1; "
                        "0: an idle machine)")
    args = parser.parse_args(argv)
    from .environment import describe

    cores = fnn.network.default_threads()
    print(f"short fits: {cores} cores; {describe()}")
    print("| workload | fit ms (one thread) | busy processes | default ÷ one thread | goal ≥ 0.9 |")
    print("|---|---|---|---|---|")
    met = True
    for load in args.loads if args.loads is not None else sorted({max(1, cores - 1), cores + 1}):
        with busy_processes(load):
            for workload_id, n in FITS:
                w = BY_ID[workload_id]
                X, y = synthetic_data(w, n)
                fit_seconds(w.widths, w.batch, 1, X[:64], y[:64])  # warm-up: imports, pages
                default, one = [], []
                for _ in range(args.rounds):
                    default.append(fit_seconds(w.widths, w.batch, cores, X, y))
                    one.append(fit_seconds(w.widths, w.batch, 1, X, y))
                ratio = statistics.median(one) / statistics.median(default)
                met &= ratio >= 0.9 or load == 0
                print(f"| {w.label()} | {1000 * statistics.median(one):.0f} | {load} | {ratio:.2f} | "
                      f"{'met' if ratio >= 0.9 else 'missed'} |", flush=True)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
