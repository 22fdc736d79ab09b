"""Memory of training on a file larger than the shuffle buffer: `python -m bench.out_of_core`.

Writes a synthetic data set (default 3M rows of 64 float32 features and a class label) as a
Parquet file and as ``.npy`` files, then measures, each in a fresh process, the peak resident
memory of one epoch of ``fnn.scale.streaming.fit`` from the Parquet file and from the
memory-mapped ``.npy`` files with a buffer of 65,536 rows, against loading the whole ``.npy`` into
memory and calling ``Network.fit`` (peak resident memory: VmHWM of /proc/self/status, Linux). The
baselines of a process that only imported fnn, and fnn and pyarrow, are given too.
Before measuring, it checks that the streamed fit reaches the in-memory fit's training accuracy
within 0.02 on a sample (the two compute comparable things).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WIDTHS = [64, 32, 10]


def make_data(folder: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 64)).astype(np.float32)
    X = np.empty((rows, 64), dtype=np.float32)
    y = np.empty(rows, dtype=np.int64)
    for start in range(0, rows, 1 << 18):
        stop = min(rows, start + (1 << 18))
        labels = rng.integers(0, 10, size=stop - start)
        X[start:stop] = centres[labels] + rng.normal(size=(stop - start, 64)).astype(np.float32)
        y[start:stop] = labels
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", y)
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {f"x{i}": X[:, i] for i in range(64)}
    columns["label"] = y
    pq.write_table(pa.table(columns), folder / "data.parquet", row_group_size=1 << 16)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited through exec
    from the parent, which held the whole data set while writing it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child(kind: str, folder: str, buffer: int) -> None:
    import fnn
    import fnn.scale.streaming as streaming

    folder = Path(folder)
    if kind == "import-pyarrow":
        import pyarrow.parquet  # noqa: F401 - its own memory, before it reads anything
    net = fnn.Network(WIDTHS, seed=0)
    started = time.perf_counter()
    if kind == "parquet":
        streaming.fit(net, streaming.parquet_blocks(folder / "data.parquet", "label", rows=1 << 16),
                      shuffle_buffer=buffer, batch_size=128, max_epochs=1, learning_rate=0.01)
    elif kind == "npy":
        streaming.fit(net, streaming.npy_blocks(folder / "X.npy", folder / "y.npy", rows=1 << 16),
                      shuffle_buffer=buffer, batch_size=128, max_epochs=1, learning_rate=0.01)
    elif kind == "in-memory":
        X, y = np.load(folder / "X.npy"), np.load(folder / "y.npy")
        net.fit(X, y, batch_size=128, max_epochs=1, learning_rate=0.01, validation_fraction=0)
    seconds = time.perf_counter() - started
    accuracy = None
    if not kind.startswith("import"):
        X, y = np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "y.npy", mmap_mode="r")
        accuracy = float(net.score(np.asarray(X[:20000]), np.asarray(y[:20000])))
    print(json.dumps({"peak_rss_mb": peak_rss_mb(),
                      "seconds": seconds, "accuracy": accuracy}))


def measure(kind: str, folder: Path, buffer: int) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.out_of_core", "--child", kind, str(folder), str(buffer)],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--buffer", type=int, default=65536)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        make_data(folder, args.rows)
        size = (folder / "X.npy").stat().st_size / 2**20
        buffer_mb = args.buffer * (64 + 10) * 4 / 2**20
        print(f"out of core: {args.rows:,} rows, X.npy {size:.0f} MiB, data.parquet "
              f"{(folder / 'data.parquet').stat().st_size / 2**20:.0f} MiB; shuffle buffer {args.buffer:,} rows "
              f"({buffer_mb:.0f} MiB with targets), blocks of 65,536 rows, one epoch, batch 128")
        from .environment import describe

        print(describe())
        results = {kind: measure(kind, folder, args.buffer)
                   for kind in ("import", "import-pyarrow", "parquet", "npy", "in-memory")}
        reference = results["in-memory"]["accuracy"]
        for kind in ("parquet", "npy"):
            if abs(results[kind]["accuracy"] - reference) > 0.02:
                raise SystemExit(f"check failed: {kind} accuracy {results[kind]['accuracy']:.3f} vs in memory "
                                 f"{reference:.3f}")
        for kind, result in results.items():
            accuracy = "" if result["accuracy"] is None else f"  training accuracy {result['accuracy']:.3f}"
            print(f"{kind:14s} peak RSS {result['peak_rss_mb']:7.0f} MiB  "
                  f"(+{result['peak_rss_mb'] - results['import']['peak_rss_mb']:5.0f} over import)  "
                  f"{result['seconds']:6.2f} s{accuracy}")


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.out_of_core")
    main()
