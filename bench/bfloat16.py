"""bfloat16 against float32, side by side: `python -m bench.bfloat16` (or `python -m bench.run --bfloat16`).

Training (samples/s of SGD epochs, every thread): fnn float32, fnn ``dtype="bfloat16"``, PyTorch
float32 and PyTorch under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (when PyTorch is
installed), on 784-256-256-10 at batch 32 and 128 and 784-1024-1024-10 at batch 256. Each
measurement runs in a fresh process, the four taking turns for several rounds; medians are
reported. The bfloat16 GEMM roof (PyTorch's bfloat16 2048³ product, oneDNN's kernels, on the same
threads) is measured in the same run: the bfloat16 limit of a workload is roof ÷ 6P samples/s.

Inference (rows/s of ``Network.forward`` over 90,000 rows, one thread): float32 and bfloat16.

Checks first: one epoch from the same weights and sample order; fnn bfloat16 must end within
bfloat16's rounding of fnn float32, as far as PyTorch's autocast does (see check).

Goals (issue 14): fnn bfloat16 ≥ 1.7× fnn float32 at batch 128 and 256, ≥ 1.5× PyTorch's autocast,
≥ 0.8 of the bfloat16 limit; inference ≥ 1.7× float32.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

import fnn

from . import baseline_torch
from .measure import fnn_epoch, median_rate, numpy_params
from .workloads import L2, LEARNING_RATE, Workload, synthetic_data

WORKLOADS = [
    Workload("B1", [784, 256, 256, 10], 32, 32768, 32768),
    Workload("B2", [784, 256, 256, 10], 128, 65536, 65536),
    Workload("B3", [784, 1024, 1024, 10], 256, 16384, 16384),
]
KINDS = ("fnn_float32", "fnn_bfloat16", "torch_float32", "torch_bfloat16")
GOALS = {"float32": 1.7, "autocast": 1.5, "limit": 0.8, "inference": 1.7}


def time_kind(kind: str, workload: Workload, threads: int, repeats: int) -> float:
    """samples/s of one kind on one workload, in this process."""
    X, y = synthetic_data(workload, workload.samples)
    net = fnn.Network(workload.widths, "relu", "softmax", dtype=kind.split("_")[1], seed=0, n_threads=threads)
    if kind.startswith("fnn"):
        return median_rate(fnn_epoch(net, X, y, workload.batch, threads), workload.samples, repeats)
    weights, biases = numpy_params(net)
    model = baseline_torch.TorchMLP(weights, biases, LEARNING_RATE, L2, threads, autocast=kind.endswith("bfloat16"))
    return median_rate(lambda order: model.train_epoch(X, y, order, workload.batch), workload.samples, repeats)


def isolated(kind: str, workload: Workload, threads: int, repeats: int) -> float:
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    shape = "-".join(map(str, workload.widths))
    command = [sys.executable, "-m", "bench.bfloat16", "--one", kind, shape, str(workload.batch), str(workload.samples),
               str(threads), str(repeats)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    return float(result.stdout.split()[-1])


def check(workload: Workload, threads: int, with_torch: bool, n: int = 2048) -> Dict[str, float]:
    """One epoch from the same weights and sample order (labels of a random linear teacher, so the
    gradients carry signal): how far fnn bfloat16 and PyTorch's autocast end from fnn float32,
    normwise, relative to the change the epoch made (the worst layer). bfloat16's rounding puts
    both a few per cent to about a sixth away (most at batch 32, where a step's gradient sums
    fewer rows); raises SystemExit if fnn bfloat16 is further than a quarter, or much further than
    PyTorch's autocast: then it computes something else."""
    rng = np.random.default_rng(2)
    X = rng.random((n, workload.widths[0]), dtype=np.float32)
    y = np.argmax((X - 0.5) @ rng.normal(size=(workload.widths[0], workload.widths[-1])), axis=1)
    order = np.random.default_rng(3).permutation(n)
    start = fnn.Network(workload.widths, "relu", "softmax", seed=0, n_threads=threads)
    initial = [start.parameters()[f"weights_{l}"].copy() for l in range(1, start.n_layers + 1)]
    results = {}
    for dtype in ("float32", "bfloat16"):
        net = start.astype(dtype)
        fnn_epoch(net, X, y, workload.batch, threads)(order)
        results[f"fnn_{dtype}"] = [net.parameters()[f"weights_{l}"].copy() for l in range(1, net.n_layers + 1)]
    if with_torch:
        weights, biases = numpy_params(start)
        model = baseline_torch.TorchMLP(weights, biases, LEARNING_RATE, L2, threads, autocast=True)
        model.train_epoch(X, y, order, workload.batch)
        results["torch_bfloat16"] = model.weights()
    reference = results.pop("fnn_float32")
    distance = {name: max(float(np.linalg.norm(W - R) / np.linalg.norm(R - W0))
                          for W, R, W0 in zip(weights, reference, initial))
                for name, weights in results.items()}
    ours = distance["fnn_bfloat16"]
    if ours > 0.25 or (with_torch and ours > 1.5 * distance["torch_bfloat16"] + 0.01):
        raise SystemExit(f"check failed: {workload.label()}: after one epoch fnn bfloat16 is {ours:.3f} of the "
                         "epoch's change away from fnn float32" + (
                             f" (PyTorch autocast {distance['torch_bfloat16']:.3f})" if with_torch else ""))
    return distance


def bfloat16_roof(threads: int, size: int = 2048, repeats: int = 10) -> Optional[float]:
    """GFLOP/s of PyTorch's bfloat16 matrix product (oneDNN), or None without PyTorch."""
    if not baseline_torch.available():
        return None
    code = (
        "import time, torch\n"
        f"torch.set_num_threads({threads})\n"
        f"a = torch.randn({size}, {size}).bfloat16(); b = torch.randn({size}, {size}).bfloat16()\n"
        "for _ in range(3): a @ b\n"
        "best = 1e9\n"
        f"for _ in range({repeats}):\n"
        "    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)\n"
        f"print(2 * {size}**3 / best / 1e9)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(result.stdout) if result.returncode == 0 else None


def inference(rows: int, rounds: int, repeats: int) -> Dict[str, float]:
    """rows/s of Network.forward on 784-256-256-10, one thread, float32 and bfloat16, taking turns."""
    from .inference import rows_per_second

    X = np.random.default_rng(0).normal(size=(rows, 784)).astype(np.float32)
    net = fnn.Network([784, 256, 256, 10], "relu", "softmax", seed=0, n_threads=1)
    nets = {"float32": net, "bfloat16": net.astype("bfloat16")}
    difference = float(np.abs(nets["float32"].forward(X[:2000]) - nets["bfloat16"].forward(X[:2000])).max())
    if difference > 0.05:
        raise SystemExit(f"check failed: bfloat16 probabilities differ from float32's by {difference:.3f}")
    rates: Dict[str, List[float]] = {name: [] for name in nets}
    for _ in range(rounds):
        for name, n in nets.items():
            rates[name].append(rows_per_second(lambda n=n: n.forward(X), rows, repeats))
    return {name: statistics.median(r) for name, r in rates.items()} | {"difference": difference}


def run(threads: int, rounds: int, repeats: int, only: Optional[List[str]] = None, log=print) -> Dict:
    from .environment import describe

    if not fnn._bfloat16.instructions():
        raise SystemExit("this CPU has no bfloat16 instructions (AVX512-BF16 or AMX-BF16)")
    with_torch = baseline_torch.available()
    roof = bfloat16_roof(threads)
    fnn.Network([2, 2], dtype="bfloat16")._core()  # loads oneDNN, to name its version and kernel
    core = fnn._engine.core
    log(f"bfloat16: {threads} threads, {rounds} rounds taking turns; bfloat16 GEMM roof "
        + (f"{roof:.0f} GFLOP/s (PyTorch 2048³)" if roof else "not measured (no PyTorch)")
        + f"; bfloat16 instructions {fnn._bfloat16.instructions()}; oneDNN {core.onednn_version()}, "
        f"{core.bfloat16_product_implementation(128, 256, 784)} for a dense 128×784·784×256; {describe()}")
    kinds = [k for k in KINDS if with_torch or k.startswith("fnn")]
    report: Dict = {"roof": roof, "threads": threads, "rows": []}
    for w in WORKLOADS:
        if only and w.id not in only:
            continue
        differences = check(w, threads, with_torch)
        samples: Dict[str, List[float]] = {k: [] for k in kinds}
        for _ in range(rounds):
            for kind in kinds:
                samples[kind].append(isolated(kind, w, threads, repeats))
        medians = {k: statistics.median(v) for k, v in samples.items()}
        row = {"workload": w, "check": differences, **medians}
        report["rows"].append(row)
        bf, f32 = medians["fnn_bfloat16"], medians["fnn_float32"]
        line = f"{w.label():28s} fnn bf16 {bf / 1e3:7.1f}k  fnn f32 {f32 / 1e3:7.1f}k ({bf / f32:.2f}x)"
        if with_torch:
            line += (f"  torch autocast {medians['torch_bfloat16'] / 1e3:6.1f}k ({bf / medians['torch_bfloat16']:.2f}x)"
                     f"  torch f32 {medians['torch_float32'] / 1e3:6.1f}k")
        if roof:
            limit = roof * 1e9 / w.flops_per_sample
            line += f"  {bf / limit:.2f} of the bf16 limit ({limit / 1e3:.0f}k)"
        log(line + "  rounds bf16 " + "/".join(f"{r / 1e3:.0f}" for r in samples["fnn_bfloat16"])
            + "  check: from float32 " + ", ".join(f"{k} {v:.3f}" for k, v in differences.items()))
    report["inference"] = result = inference(90_000, rounds, 5)
    log(f"inference 784-256-256-10, 1 thread: float32 {result['float32'] / 1e6:.3f}M rows/s, bfloat16 "
        f"{result['bfloat16'] / 1e6:.3f}M ({result['bfloat16'] / result['float32']:.2f}x); "
        f"largest probability difference {result['difference']:.1e}")
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bfloat16", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=fnn.network.default_threads())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per process (median)")
    parser.add_argument("--only", nargs="*", help="workload ids: B1 B2 B3")
    parser.add_argument("--one", nargs=6, metavar=("KIND", "WIDTHS", "BATCH", "SAMPLES", "THREADS", "REPEATS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        kind, widths, batch, samples, threads, repeats = args.one
        workload = Workload("one", [int(m) for m in widths.split("-")], int(batch), int(samples), int(samples))
        print(time_kind(kind, workload, int(threads), int(repeats)))
        return 0
    started = time.perf_counter()
    run(args.threads, args.rounds, args.repeats, args.only)
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.bfloat16")
    sys.exit(main())
