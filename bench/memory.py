"""Peak memory of a fit against the size of its data: `python -m bench.memory [--rows N]`.

In a fresh process: the resident size after importing fnn (the interpreter and libraries), then
X (float32, the network's dtype, so fit converts nothing) and y, then one epoch of the default fit
(a 10% validation split, shuffling). The figure is (peak − the size before the data) ÷ the data's
bytes: 1.0 means the fit itself held nothing beyond small per-sample arrays; the goal is ≤ 1.3."""

import argparse
import subprocess
import sys

CODE = """
import numpy as np, fnn
def rss(field):
    return int(open('/proc/self/status').read().split(field + ':')[1].split()[0]) * 1024
before = rss('VmRSS')
rng = np.random.default_rng(0)
X = rng.random(({rows}, {features}), dtype=np.float32)
y = rng.integers(0, 2, {rows}).astype(np.int8)
data = X.nbytes + y.nbytes
net = fnn.Network([{features}, 16, 2], seed=0)
net.fit(X, y, max_epochs=1)
print(data, rss('VmHWM') - before)
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--features", type=int, default=20)
    args = parser.parse_args(argv)
    result = subprocess.run([sys.executable, "-c", CODE.format(rows=args.rows, features=args.features)],
                            capture_output=True, text=True, check=True)
    data, peak = map(int, result.stdout.split())
    print(f"{args.rows} rows x {args.features} features: data {data / 2**20:.0f} MiB, peak of the fit above the "
          f"process before the data {peak / 2**20:.0f} MiB: {peak / data:.2f}x the data (goal <= 1.3)")
    return 0


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.memory")
    sys.exit(main())
