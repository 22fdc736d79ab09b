"""Data-parallel training over MPI on this machine: `python -m bench.distributed` (or
`python -m bench.run --distributed`).

For each workload (784-256-256-10 at global batch 128, 784-1024-1024-10 at 256) and R = 1, 2, 3
ranks of one thread each, runs ``mpiexec -n R`` on this module's worker, which first checks that
the ranks' weights after one float64 epoch equal one process's (relative difference < 1e-5), then
times float32 epochs of ``fnn.scale.distributed.fit``, each step split (rank 0's view) into computing,
the Allreduce itself (timed alone after a barrier, same buffer) and waiting for the other ranks.
Rounds of the three rank counts take turns; medians are reported with the speed-up over one rank.
The goal (issue 13): at least 1.7x at 2 ranks on both workloads.

Then fits the ring-allreduce model t = 2(R−1)/R · bytes / bandwidth + 2(R−1) · latency to the
measured allreduce times, and predicts the speed-up on N nodes for 10 and 100 Gb/s links.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

from .workloads import BY_ID, scaled, synthetic_data

GOAL = 1.7
WORKLOADS = ("P4", "P5")


def worker(workload_id: str, scale: float, epochs: int) -> None:
    import fnn
    import fnn.scale.distributed as distributed

    comm = distributed.world()
    rank, size = comm.Get_rank(), comm.Get_size()
    workload = BY_ID[workload_id] if scale == 1 else scaled(BY_ID[workload_id], scale)
    # The check: one float64 epoch on a small sample against one process with the same batch.
    X, y = synthetic_data(workload, 4 * workload.batch, seed=1)
    start, stop = distributed.shard(X.shape[0], comm)
    settings = dict(batch_size=workload.batch, max_epochs=1, validation_fraction=0, learning_rate=0.01)
    net = fnn.Network(workload.widths, dtype="float64", seed=0, n_threads=1)
    distributed.fit(net, X[start:stop], y[start:stop], comm=comm, **settings)
    one = fnn.Network(workload.widths, dtype="float64", seed=0, n_threads=1)
    one.fit(X, y, **settings)
    difference = max(float(np.abs(net.parameters()[k] - p).max() / np.abs(p).max())
                      for k, p in one.parameters().items())
    if difference >= 1e-5:
        raise SystemExit(f"check failed: {size} ranks differ from one process by {difference:.3g}")
    # The timing: float32, every rank's shard of the workload's samples.
    X, y = synthetic_data(workload, workload.samples, seed=0)
    start, stop = distributed.shard(X.shape[0], comm)
    X, y = X[start:stop], y[start:stop]
    net = fnn.Network(workload.widths, seed=0, n_threads=1)
    history = distributed.fit(net, X, y, comm=comm, batch_size=workload.batch, max_epochs=epochs + 1,
                              validation_fraction=0, learning_rate=0.001, patience=np.inf)
    steps = -(-workload.samples // workload.batch)
    # The Allreduce alone: the same buffer, the ranks lined up by a barrier before each.
    from mpi4py import MPI

    buffer = np.zeros(sum(p.size for p in net.parameters().values()) + 1, dtype=np.float32)
    alone = []
    for _ in range(30):
        comm.Barrier()
        started = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buffer)
        alone.append(time.perf_counter() - started)
    if rank == 0:
        times = history.epoch_time[1:]  # the first epoch warms up
        waits = history.communication_time[1:]
        middle = int(np.argsort(times)[len(times) // 2])
        step, in_collectives = times[middle] / steps, waits[middle] / steps
        allreduce = float(np.median(alone)) if size > 1 else 0.0
        print("RESULT " + json.dumps({
            "samples_per_second": workload.samples / times[middle], "step_ms": 1e3 * step,
            "compute_ms": 1e3 * (step - in_collectives), "allreduce_ms": 1e3 * allreduce,
            "waiting_ms": 1e3 * max(0.0, in_collectives - allreduce), "difference": difference,
            "bytes": buffer.nbytes}), flush=True)


LOCAL_SGD_SETS = ("digits", "breast cancer")


def local_sgd_worker(average_every: int, seeds: int) -> None:
    """Test accuracy of per-sample local SGD on this many ranks (and of one process's Network.fit,
    on rank 0 of a 1-rank run), per data set and seed."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    import fnn
    import fnn.scale.distributed as distributed

    comm = distributed.world()
    rank, size = comm.Get_rank(), comm.Get_size()
    loaders = {"digits": datasets.load_digits, "breast cancer": datasets.load_breast_cancer}
    results: Dict[str, List[float]] = {}
    for name in LOCAL_SGD_SETS:
        X, y = loaders[name](return_X_y=True)
        for seed in range(seeds):
            X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
            scaler = StandardScaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            settings = dict(batch_size=1, learning_rate=0.01, max_epochs=100, patience=10)
            widths = [X.shape[1], 64, int(y.max()) + 1]
            if size == 1:
                net = fnn.Network(widths, seed=seed, n_threads=1)
                net.fit(X_train, y_train, **settings)
                results.setdefault(f"{name}|one process", []).append(float(net.score(X_test, y_test)))
            net = fnn.Network(widths, seed=seed, n_threads=1)
            start, stop = distributed.shard(len(X_train), comm)
            distributed.fit(net, X_train[start:stop], y_train[start:stop], comm=comm, average_every=average_every,
                            **settings)
            results.setdefault(f"{name}|{size} ranks", []).append(float(net.score(X_test, y_test)))
    if rank == 0:
        print("RESULT " + json.dumps(results), flush=True)


def local_sgd(seeds: int, log=print) -> Dict:
    """Per-sample SGD on one process against local SGD on 2 and 3 ranks (averaging every 64 and
    1024 samples per rank): median test accuracy over the seeds."""
    rows = {}
    for ranks in (1, 2, 3):
        for every in ((1024,) if ranks == 1 else (64, 1024)):
            result = _mpiexec(ranks, ["--local-sgd-worker", str(every), "--seeds", str(seeds)])
            for key, scores in result.items():
                name, how = key.split("|")
                label = how if how == "one process" else f"{how}, averaged every {every}"
                rows[(name, label)] = statistics.median(scores)
    for (name, label), accuracy in rows.items():
        log(f"local SGD  {name:14s} {label:34s} median test accuracy {accuracy:.3f} ({seeds} seeds)")
    return {f"{name}|{label}": accuracy for (name, label), accuracy in rows.items()}


def _mpiexec(ranks: int, arguments: List[str]) -> Dict:
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
    if mpiexec is None:
        raise SystemExit("no mpiexec: pip install 'fnn[mpi]'")
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    command = [mpiexec, "-n", str(ranks), sys.executable, "-m", "bench.distributed", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def launch(ranks: int, workload_id: str, scale: float, epochs: int) -> Dict:
    return _mpiexec(ranks, ["--worker", workload_id, "--scale", str(scale), "--epochs", str(epochs)])


def ring_model(rows: List[Dict]) -> Dict:
    """Fits t = 2(R−1)/R · bytes / bandwidth + 2(R−1) · latency (least squares, R > 1) to the
    measured allreduce times per step."""
    a, b = [], []
    for row in rows:
        if row["ranks"] > 1:
            r = row["ranks"]
            a.append([2 * (r - 1) / r * row["bytes"], 2 * (r - 1)])
            b.append(row["allreduce_ms"] / 1e3)
    (inverse_bandwidth, latency), *_ = np.linalg.lstsq(np.array(a), np.array(b), rcond=None)
    return {"bandwidth_GBps": 1 / inverse_bandwidth / 1e9 if inverse_bandwidth > 0 else float("inf"),
            "latency_us": latency * 1e6}


def predict(rows: List[Dict], link_gbit: float, latency_s: float = 5e-6) -> Dict[int, Dict[str, float]]:
    """Speed-up on N nodes (each as fast as one rank here) over links of `link_gbit` Gb/s:
    compute per step / N + ring allreduce, against compute per step on one node."""
    out = {}
    for row in rows:
        if row["ranks"] != 1:
            continue
        compute = row["step_ms"] / 1e3
        bandwidth = link_gbit * 1e9 / 8
        out[row["workload"]] = {
            n: compute / (compute / n + 2 * (n - 1) / n * row["bytes"] / bandwidth + 2 * (n - 1) * latency_s)
            for n in (4, 8, 16, 32, 64)}
    return out


def run(scale: float, rounds: int, epochs: int, out=None, log=print) -> Dict:
    from .environment import describe

    log(f"distributed: ranks 1, 2, 3 of one thread each, {rounds} rounds taking turns; {describe()}")
    rows = []
    for workload_id in WORKLOADS:
        measured: Dict[int, List[Dict]] = {1: [], 2: [], 3: []}
        for _ in range(rounds):
            for ranks in measured:
                measured[ranks].append(launch(ranks, workload_id, scale, epochs))
        base = statistics.median(m["samples_per_second"] for m in measured[1])
        for ranks, results in measured.items():
            rate = statistics.median(m["samples_per_second"] for m in results)
            row = {"workload": workload_id, "ranks": ranks, "samples_per_second": rate, "speed_up": rate / base,
                   **{key: statistics.median(m[key] for m in results)
                      for key in ("step_ms", "compute_ms", "allreduce_ms", "waiting_ms")},
                   "bytes": results[0]["bytes"], "difference": max(m["difference"] for m in results)}
            rows.append(row)
            goal = f"  goal {GOAL}x {'met' if row['speed_up'] >= GOAL else 'missed'}" if ranks == 2 else ""
            log(f"{BY_ID[workload_id].label():26s} {ranks} ranks {rate:10.0f}/s  speed-up {row['speed_up']:4.2f}x  "
                f"step {row['step_ms']:.2f} ms: compute {row['compute_ms']:.2f}, allreduce {row['allreduce_ms']:.2f}, "
                f"waiting {row['waiting_ms']:.2f}  "
                f"(check vs one process {row['difference']:.1e}){goal}")
    model = ring_model(rows)
    log(f"ring allreduce fitted here: {model['bandwidth_GBps']:.2f} GB/s, {model['latency_us']:.1f} us per hop")
    for link in (10, 100):
        for workload_id, speed in predict(rows, link).items():
            log(f"predicted on {link:3d} Gb/s, {workload_id}: "
                + "  ".join(f"{n} nodes {s:.1f}x" for n, s in speed.items()))
    report = {"rows": rows, "model": model, "predicted": {link: predict(rows, link) for link in (10, 100)}}
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "distributed.json").write_text(json.dumps(report, indent=1))
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the samples (and sizes) to use")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per run (median)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--local-sgd", dest="local_sgd", action="store_true",
                        help="instead: accuracy of per-sample local SGD on 1-3 ranks (digits, breast cancer)")
    parser.add_argument("--seeds", type=int, default=5, help="(with --local-sgd) seeds of the train/test split")
    parser.add_argument("--local-sgd-worker", dest="local_sgd_worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.scale, args.epochs)
    if args.local_sgd_worker:
        return local_sgd_worker(args.local_sgd_worker, args.seeds)
    started = time.time()
    if args.local_sgd:
        local_sgd(args.seeds)
    else:
        run(args.scale, args.rounds, args.epochs, args.out)
    print(f"({time.time() - started:.0f} s)")


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.distributed")
    main()
