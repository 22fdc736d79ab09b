"""Two builds of fnn on an idle machine, side by side: `python -m bench.side_by_side BEFORE AFTER
[WORKLOAD …]`, where BEFORE and AFTER are folders holding an installed fnn package (for example
`pip install --no-deps --target /tmp/before .` on each commit) and no editable install of fnn is
active. Fresh processes take turns, three rounds each, on two threads and on one; the ratio of
the medians is printed per workload. Unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for the run."""

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rate(package: str, workload: str, threads: int) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([package, str(ROOT)]))
    command = [sys.executable, "-m", "bench.measure", "fnn", workload, "1", str(threads), "3", "float32"]
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=package, check=True).stdout
    return float(out.split()[-1])


def main(argv) -> int:
    before, after, *workloads = argv
    for workload in workloads or ["P1", "P2", "P3", "P4", "P5", "D"]:
        for threads in (2, 1):
            rates = {before: [], after: []}
            for _ in range(3):
                for package in (before, after):
                    rates[package].append(rate(package, workload, threads))
            old, new = statistics.median(rates[before]), statistics.median(rates[after])
            print(f"{workload} threads={threads}: before {old:,.0f}/s  after {new:,.0f}/s  after/before {new / old:.3f}"
                  "  rounds " + " ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(rates[before], rates[after])), flush=True)
    return 0


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.side_by_side")
    raise SystemExit(main(sys.argv[1:]))
