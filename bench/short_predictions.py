"""Short predictions on one thread and on two, as users' processes make them:
`python -m bench.short_predictions [--rounds 3]`.

A prediction of up to 512 rows is shared by the calling thread with helper threads that claim
passes of 32 samples as they wake (cpp/helpers.hpp). This times ``Network.forward`` of 64 and 512
rows of 784-256-256-10 (float32) with ``n_threads`` 1 and 2 in four states of the machine: quiet;
right after a 512×512 NumPy product before each call (NumPy's OpenBLAS threads then spin on the
cores for ~0.1 s); beside a busy process (``while True: pass``); and both. Each cell is the median
of `--calls` calls per round, one and two threads taking turns within each round; the table gives
the median over rounds and one ÷ two threads (above 1: the helpers pay). The outputs of both thread
counts are checked to be equal bit for bit first. `--pause S` sleeps S seconds before each call
(calls far apart, as a served model gets them: helpers then sleep between calls); `--widths`,
`--rows` and `--states` pick other networks, sizes and states. Before the helpers, the largest cost was a
second thread descheduled while the caller waited for it: 7.4 ms instead of 0.39 ms for 64 rows
right after a NumPy product, when such calls took an OpenMP team.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

import numpy as np

import fnn

WIDTHS = [784, 256, 256, 10]
STATES = ("quiet", "after NumPy", "busy neighbour", "busy neighbour, after NumPy")


def median_call_us(net: fnn.Network, X: np.ndarray, calls: int, numpy_first: bool, A: np.ndarray,
                   pause: float = 0.0) -> float:
    times = []
    for _ in range(calls):
        if pause:
            time.sleep(pause)
        if numpy_first:
            A @ A
        start = time.perf_counter()
        net.forward(X)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def measure(rows: List[int], rounds: int, calls: int, widths: Optional[List[int]] = None,
            states: Optional[List[str]] = None, pause: float = 0.0) -> List[dict]:
    widths = widths or WIDTHS
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(max(rows), widths[0])).astype(np.float32)
    A = rng.normal(size=(512, 512))
    nets = {threads: fnn.Network(widths, "relu", "softmax", seed=0, n_threads=threads) for threads in (1, 2)}
    if not np.array_equal(nets[1].forward(pool), nets[2].forward(pool)):
        raise SystemExit("one thread and two disagree")
    results = []
    for state in states or STATES:
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if "busy" in state else None
        try:
            time.sleep(0.3 if busy else 0)
            for n in rows:
                times: Dict[int, List[float]] = {1: [], 2: []}
                for _ in range(rounds):
                    for threads, net in nets.items():
                        times[threads].append(median_call_us(net, pool[:n], calls, "NumPy" in state, A, pause))
                one, two = statistics.median(times[1]), statistics.median(times[2])
                results.append(dict(state=state, rows=n, one=one, two=two))
        finally:
            if busy:
                busy.kill()
                busy.wait()
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", type=int, default=[64, 512])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=60, help="calls per cell and round (median)")
    parser.add_argument("--widths", default=",".join(map(str, WIDTHS)), help="the network's layer widths")
    parser.add_argument("--states", nargs="+", choices=STATES, default=list(STATES))
    parser.add_argument("--pause", type=float, default=0.0, help="seconds slept before each call")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    from threadpoolctl import threadpool_info

    cores = sorted({i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"})
    print(f"fnn {fnn.__version__}, {'-'.join(map(str, widths))} float32, OpenBLAS core types {cores}, "
          f"{args.rounds} rounds of {args.calls} calls{f', {args.pause} s apart' if args.pause else ''}, medians")
    print("| machine | rows | 1 thread µs | 2 threads µs | 1 ÷ 2 threads |")
    print("|---|---|---|---|---|")
    for r in measure(args.rows, args.rounds, args.calls, widths, args.states, args.pause):
        ratio = r["one"] / r["two"]
        print(f"| {r['state']} | {r['rows']} | {r['one']:.0f} | {r['two']:.0f} | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
