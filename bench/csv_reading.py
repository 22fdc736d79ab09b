"""Time and peak memory of reading a large CSV file: `python -m bench.csv_reading [--rows N]`.

Writes a CSV of N rows × 20 numeric columns and a text label (about 36.6 MiB at the default
N), then in fresh processes, alternating, `rounds` times each: fnn's reader
(``fnn.io.data_files.read_table``: pandas' C parser plus fnn's column typing) and plain
``pandas.read_csv`` as the baseline it builds on. Before timing, one run of each checks that both
read the same numbers. Prints the median wall time and the peak resident memory above the
process before reading, as a multiple of the file's size."""

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CODE = """
import sys, time
import numpy as np
def rss(field):
    return int(open('/proc/self/status').read().split(field + ':')[1].split()[0]) * 1024
import pandas as pd
from fnn.io.data_files import read_table
before = rss('VmRSS')
start = time.perf_counter()
if sys.argv[2] == 'fnn':
    table = read_table(sys.argv[1])
    X, y = table.X.to_numpy(), table.y
else:
    frame = pd.read_csv(sys.argv[1])
    X, y = frame.iloc[:, :-1].to_numpy(), frame.iloc[:, -1].to_numpy()
seconds = time.perf_counter() - start
if len(sys.argv) > 3:
    np.save(sys.argv[3], X)
print(seconds, rss('VmHWM') - before)
"""


def _write(path: Path, rows: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    with open(path, "w") as stream:
        stream.write(",".join(f"x{j}" for j in range(20)) + ",label\n")
        for start in range(0, rows, 50_000):
            block = rng.normal(size=(min(50_000, rows - start), 20)) * 100
            labels = np.where(block[:, 0] > 0, "yes", "no")
            lines = [",".join(f"{v:.4f}" for v in row) + f",{label}" for row, label in zip(block, labels)]
            stream.write("\n".join(lines) + "\n")


def _run(path: Path, reader: str, check: Path = None):
    argv = [sys.executable, "-c", CODE, str(path), reader] + ([str(check)] if check else [])
    seconds, peak = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    return float(seconds), int(peak)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.csv_reading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=220_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.csv"
        _write(path, args.rows)
        size = path.stat().st_size
        _run(path, "fnn", Path(folder) / "fnn.npy")
        _run(path, "pandas", Path(folder) / "pandas.npy")
        if not np.array_equal(np.load(Path(folder) / "fnn.npy"), np.load(Path(folder) / "pandas.npy")):
            raise SystemExit("fnn's reader and pandas.read_csv read different numbers")
        times = {"fnn": [], "pandas": []}
        peaks = {"fnn": [], "pandas": []}
        for _ in range(args.rounds):
            for reader in times:
                seconds, peak = _run(path, reader)
                times[reader].append(seconds)
                peaks[reader].append(peak)
    print(f"{args.rows} rows x 21 columns, {size / 2**20:.1f} MiB, median of {args.rounds} fresh processes each")
    print(f"{'reader':<22}{'seconds':>9}{'peak / file size':>18}")
    for reader, name in (("fnn", "fnn read_table"), ("pandas", "pandas.read_csv")):
        print(f"{name:<22}{statistics.median(times[reader]):>9.2f}{statistics.median(peaks[reader]) / size:>17.2f}x")
    return 0


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.csv_reading")
    sys.exit(main())
