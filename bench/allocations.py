"""Checks that training allocates nothing per step: `python -m bench.allocations` (Linux, gcc).

Counts malloc calls during one epoch of 1,024 and of 8,192 samples for each kind of kernel
(per-sample on one and two threads, mini-batch on one and two threads, with PReLU, maxout and
bfloat16 products on two). Equal counts mean the
allocations belong to setting up the call, not to the steps of the loop."""

import ctypes
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CASES = [([64, 32, 10], 1, 1, "relu", "float32"), ([784, 256, 256, 10], 1, 2, "relu", "float32"),
         ([784, 256, 256, 10], 32, 1, "relu", "float32"), ([784, 256, 256, 10], 32, 2, "relu", "float32"),
         ([784, 256, 256, 10], 32, 2, "prelu", "float32"), ([784, 256, 256, 10], 32, 2, "maxout", "float32"),
         ([784, 256, 256, 10], 32, 2, "relu", "bfloat16")]


def count() -> int:
    import fnn

    from .measure import engine_epoch

    calls = ctypes.CDLL(None).fnn_malloc_calls
    calls.restype = ctypes.c_long
    failures = 0
    for widths, batch, threads, hidden, dtype in CASES:
        if dtype == "bfloat16" and not fnn.bfloat16_available():
            continue
        net = fnn.Network(widths, hidden, seed=0, n_threads=threads, dtype=dtype)
        per_epoch = []
        for n in (1024, 8192):
            rng = np.random.default_rng(0)
            X = rng.random((n, widths[0]), dtype=np.float32)
            targets = net._targets(rng.integers(0, widths[-1], n), n)
            order = rng.permutation(n)
            epoch = engine_epoch(net, 0.01, 1e-4, batch, threads)
            epoch(X, targets, order)  # warm-up
            before = calls()
            epoch(X, targets, order)
            per_epoch.append(calls() - before)
        # (An allocation per step adds at least one per step of the longer epoch's 7,168 more
        # samples; a one-off on the first call may make the shorter one's larger, and the team
        # monitor's look at /proc every 50 ms adds one or two to the longer epoch.)
        per_step = per_epoch[1] - per_epoch[0] >= (8192 - 1024) // batch // 2
        verdict = "ALLOCATES PER STEP" if per_step else "ok"
        if dtype == "bfloat16" and per_step:  # oneDNN's execution context, per product: see docs/performance.md
            verdict = f"{(per_epoch[1] - per_epoch[0]) / ((8192 - 1024) // batch):.0f} per step, in oneDNN"
        else:
            failures += per_step
        print(f"{'-'.join(map(str, widths)):>16} {hidden} {dtype} batch {batch:3d}, {threads} thread(s): "
              f"{per_epoch[0]} mallocs for 1,024 samples, {per_epoch[1]} for 8,192: {verdict}")
    return 1 if failures else 0


def main() -> int:
    if os.environ.get("FNN_COUNTING_MALLOC"):
        return count()
    build = Path(tempfile.mkdtemp())
    library = build / "libmalloc_counter.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", str(Path(__file__).with_name("malloc_counter.c")), "-o",
                    str(library), "-ldl"], check=True)
    env = dict(os.environ, LD_PRELOAD=str(library), FNN_COUNTING_MALLOC="1")
    return subprocess.run([sys.executable, "-m", "bench.allocations"], env=env).returncode


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.allocations")
    sys.exit(main())
