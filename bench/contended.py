"""fnn on a busy machine: `python -m bench.run --contended`.

Starts competing busy processes itself (one fewer than the cores, then cores + 1) and measures,
under each load, fnn at its default thread count against ``n_threads=1``, the two taking turns
in fresh processes so that both meet the same load. The goal (issue 10): the default thread
count reaches at least 0.9x the speed of one thread on every workload."""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import fnn

from . import measure
from .workloads import Workload

GOAL = 0.9


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[List[subprocess.Popen]]:
    """`count` processes that spin on a CPU each until the block ends (and at most an hour)."""
    code = "import time\nend = time.monotonic() + 3600\nwhile time.monotonic() < end: pass\n"
    processes = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]
    try:
        time.sleep(0.5)  # let them reach their cores
        yield processes
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()


def run(workloads: List[Workload], scale: float, repeats: int, rounds: int, out: Optional[Path], log=None) -> Dict:
    log = log or (lambda line: print(line, flush=True))
    cores = fnn.network.default_threads()
    loads = sorted({max(1, cores - 1), cores + 1})
    from .environment import describe

    log(f"contended: {cores} cores, default thread count {cores}, loads of {loads} busy processes; {describe()}")
    rows = []
    for load in loads:
        with busy_processes(load):
            for w in workloads:
                rates: Dict[str, List[float]] = {"default": [], "one": []}
                for _ in range(rounds):
                    rates["default"].append(measure.isolated("fnn", w, scale, cores, repeats))
                    rates["one"].append(measure.isolated("fnn", w, scale, 1, repeats))
                default, one = statistics.median(rates["default"]), statistics.median(rates["one"])
                row = {"workload": w.label(), "load": load, "default": default, "one": one, "ratio": default / one}
                rows.append(row)
                log(f"load {load}  {w.label():26s} default {default:12.0f}/s  one thread {one:12.0f}/s  "
                    f"ratio {default / one:5.2f}  ({'met' if default / one >= GOAL else 'missed'})  rounds "
                    + " ".join(f"{d:.0f}/{o:.0f}" for d, o in zip(rates["default"], rates["one"])))
    report = {"cores": cores, "rows": rows}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "contended.md").write_text(markdown(report))
    return report


def markdown(report: Dict) -> str:
    lines = [f"Default thread count ({report['cores']}) against one thread, with busy processes competing "
             f"(`python -m bench.run --contended`); goal ≥ {GOAL}×.", "",
             "| workload | busy processes | default samples/s | 1 thread samples/s | ratio | goal met |",
             "|---|---|---|---|---|---|"]
    for row in report["rows"]:
        lines.append(f"| {row['workload']} | {row['load']} | {row['default']:,.0f} | {row['one']:,.0f} | "
                     f"{row['ratio']:.2f} | {'yes' if row['ratio'] >= GOAL else 'no'} |")
    return "\n".join(lines) + "\n"
