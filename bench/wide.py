"""Wide tables: `python -m bench.wide [--rounds 3]`.

Writes two CSV files of numbers, 260,000 columns × 1 row (2.5 MB) and 100,000 columns × 20 rows
(4.7 MB, issue 25's cases), and times `fnn train` (2 epochs), `fnn predict` and `fnn evaluate` on
each in fresh processes, with the peak resident memory of each. Before timing, it checks that the
wide reader (NumPy's parser) and pandas' read the same table. Goal (issue 25): each command in a
few seconds with bounded memory; before, `fnn train` on the first file ran past 150 s and the
second took 160 s and 650 MB (predict 93 s), the time growing with the square of the columns.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

#: (columns, rows)
SHAPES = [(260_000, 1), (100_000, 20)]

#: Runs the command line in this process and prints its peak resident memory last (MB).
RUN = """
import runpy, sys
sys.argv = ["fnn", *sys.argv[1:]]
try:
    runpy.run_module("fnn", run_name="__main__")
except SystemExit as stop:
    if stop.code:
        raise
finally:
    print(int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024, file=sys.stderr)
"""


def write(path: Path, columns: int, rows: int) -> None:
    """Digits 0–8 in every column but the target c0, a number with a decimal point (regression:
    one row has one class, which no classifier trains on)."""
    rng = np.random.default_rng(0)
    with open(path, "w") as stream:
        stream.write(",".join(f"c{j}" for j in range(columns)) + "\n")
        for _ in range(rows):
            stream.write(f"{rng.random():.3f}," + ",".join(map(str, rng.integers(0, 9, columns - 1))) + "\n")


def same_either_way(path: Path) -> None:
    """The wide reader and pandas' give the same table (else the timing would mean nothing)."""
    import fnn.io.data_files as data_files

    fast = data_files.read_table(str(path), "c0")
    saved = data_files.WIDE_COLUMNS
    data_files.WIDE_COLUMNS = 10 ** 9
    try:
        slow = data_files.read_table(str(path), "c0")
    finally:
        data_files.WIDE_COLUMNS = saved
    assert list(fast.X.columns) == list(slow.X.columns)
    assert np.array_equal(fast.X.to_numpy(), slow.X.to_numpy()) and np.array_equal(fast.y, slow.y)


def timed(arguments: List[str]) -> tuple:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", RUN, *arguments], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"fnn {' '.join(arguments)} failed:\n{result.stderr}")
    return seconds, float(result.stderr.strip().splitlines()[-1])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wide", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print("| file | command | seconds (median) | peak memory MB |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for columns, rows in SHAPES:
            path = Path(folder) / f"wide_{columns}x{rows}.csv"
            write(path, columns, rows)
            same_either_way(path)
            model = str(Path(folder) / "model.npz")
            commands = [("train", ["train", str(path), "--target", "c0", "--max-epochs", "2", "--quiet", "-o", model]),
                        ("predict", ["predict", model, str(path)])]
            if rows > 1:  # (R² of one row is undefined)
                commands.append(("evaluate", ["evaluate", model, str(path)]))
            runs = {name: [] for name, _ in commands}
            for _ in range(args.rounds):
                for name, arguments in commands:
                    runs[name].append(timed(arguments))
            for name, _ in commands:
                seconds = statistics.median(s for s, _ in runs[name])
                memory = max(m for _, m in runs[name])
                size = path.stat().st_size / 1e6
                print(f"| {columns:,} columns × {rows} rows ({size:.1f} MB) | fnn {name} | {seconds:.2f} "
                      f"| {memory:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
