"""How long Ctrl-C takes to stop a fit in the middle of one long mini-batch step:
`python -m bench.interrupt`. SIGINT is sent 0.5 s into a step of 8192 rows through a
784-2048-2048-10 network (several seconds of work), and the time until KeyboardInterrupt reaches
Python is printed for each thread count (median of 3). Goal (issue 10): within 100 ms."""

import os
import signal
import statistics
import threading
import time

import numpy as np

import fnn


def latency(threads: int) -> float:
    rng = np.random.default_rng(0)
    X = rng.random((8192, 784), dtype=np.float32)
    y = rng.integers(0, 10, 8192)
    net = fnn.Network([784, 2048, 2048, 10], seed=0, n_threads=threads)
    sent = []

    def interrupt():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.5, interrupt)
    timer.start()
    try:
        net.fit(X, y, batch_size=8192, max_epochs=1, validation_fraction=0)
    except KeyboardInterrupt:
        return time.perf_counter() - sent[0]
    raise RuntimeError("the step ended before the interrupt")


if __name__ == "__main__":
    for threads in (1, 2):
        times = [latency(threads) for _ in range(3)]
        print(f"{threads} thread(s): Ctrl-C took {statistics.median(times) * 1e3:.0f} ms (rounds "
              + ", ".join(f"{t * 1e3:.0f}" for t in times) + ")")
