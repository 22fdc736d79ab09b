"""One command for all five workloads: `python -m bench.run` from the repository root.

Prints a table of samples/s, GFLOP/s (6·P per sample), fraction of the sgemm roof measured in the
same run, and the ratio to each baseline present; writes it as Markdown and as a PNG bar chart.
Each workload first checks that fnn and the NumPy baseline, from the same weights and sample
order, end an epoch with the same weights."""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

import fnn

from . import baseline_torch, contended, measure
from .environment import describe
from .workloads import DIGITS, WORKLOADS, Workload, scaled

RESULTS = Path(__file__).resolve().parent / "results"


def import_seconds(module: str, repeats: int = 3) -> Optional[float]:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeats):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if result.returncode != 0:
            return None
        times.append(float(result.stdout))
    return statistics.median(times)


def peak_rss_mb(workload: Workload, threads: int) -> float:
    """Peak resident memory of a fresh process that trains `workload` for one epoch with fit()."""
    code = (
        "import fnn\n"
        f"from bench.workloads import WORKLOADS, synthetic_data\n"
        f"w = [w for w in WORKLOADS if w.id == {workload.id!r}][0]\n"
        f"X, y = synthetic_data(w, {workload.samples})\n"
        f"net = fnn.Network(w.widths, 'relu', seed=0, n_threads={threads})\n"
        f"net.fit(X, y, batch_size=w.batch, max_epochs=1, validation_fraction=0)\n"
        # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec.
        "print(int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024)\n")
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return float(result.stdout) if result.returncode == 0 else float("nan")


def fmt_rate(rate: Optional[float]) -> str:
    if rate is None:
        return "–"
    return f"{rate / 1e6:.2f}M" if rate >= 1e6 else f"{rate / 1e3:.1f}k"


def run(workloads: List[Workload], threads: int, repeats: int, check_samples: int, baselines: bool,
        extras: bool, out: Optional[Path], log=print, scale: float = 1.0, rounds: int = 3,
        numpy_first: bool = False, busy: int = 0) -> Dict:
    roof = measure.sgemm_roof(threads)
    core_types = describe()
    log(f"sgemm roof ({threads} threads, NumPy): {roof:.1f} GFLOP/s; {core_types}")
    has_torch = baselines and baseline_torch.available()
    try:
        import sklearn  # noqa: F401
        has_sklearn = baselines
    except ImportError:
        has_sklearn = False
    rows = []
    for w in workloads:
        diff = measure.check_same_epoch(w, check_samples, threads, with_torch=has_torch)
        # Each measurement runs in its own process, `rounds` times, the frameworks taking turns so
        # that a noisy neighbour slows them alike; the table gives the median of the rounds.
        plan = [("fnn", "fnn", threads, "float32")]
        if baselines:
            plan.append(("numpy", "numpy", threads, "float32"))
        if has_torch:
            plan.append(("pytorch", "pytorch", threads, "float32"))
        if has_sklearn:
            plan.append(("sklearn", "sklearn", threads, "float32"))
        if extras:
            plan.append(("fnn_1_thread", "fnn", 1, "float32"))
            plan.append(("fnn_float64", "fnn", threads, "float64"))
            if baselines:
                plan.append(("numpy_float64", "numpy", threads, "float64"))
        samples = {key: [] for key, *_ in plan}
        with contended.busy_processes(busy):
            for _ in range(rounds):
                for key, kind, n_threads, dtype in plan:
                    samples[key].append(measure.isolated(kind, w, scale, n_threads, repeats, dtype, numpy_first))
        row = {"workload": w, "check": diff}
        row.update({key: statistics.median(values) for key, values in samples.items()})
        log(f"{w.label()}: " + ", ".join(f"{key} " + "/".join(fmt_rate(v) for v in values)
                                         for key, values in samples.items()))
        rows.append(row)
        gflops = row["fnn"] * w.flops_per_sample / 1e9
        log(f"{w.label():26s} fnn {fmt_rate(row['fnn']):>8s}/s {gflops:6.1f} GFLOP/s {gflops / roof:5.2f} of roof"
            + "".join(f"  {name} {fmt_rate(row[name])}/s ({row['fnn'] / row[name]:.2f}x)"
                      for name in ("numpy", "pytorch", "sklearn") if row.get(name)))
    report = {"roof": roof, "core_types": core_types,
              "threads": threads, "rows": rows, "has_torch": has_torch, "has_sklearn": has_sklearn,
              "rounds": rounds, "numpy_first": numpy_first, "busy": busy}
    if extras:
        report["import_fnn"] = import_seconds("fnn")
        report["import_torch"] = import_seconds("torch") if has_torch else None
        report["rss"] = {w.id: peak_rss_mb(w, threads) for w in workloads}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "latest.md").write_text(markdown(report))
        plot(report, out / "latest.png")
        log(f"wrote {out / 'latest.md'} and {out / 'latest.png'}")
    return report


def markdown(report: Dict) -> str:
    roof, threads = report["roof"], report["threads"]
    names = [n for n, present in (("numpy", True), ("pytorch", report["has_torch"]),
                                  ("sklearn", report["has_sklearn"])) if present and "numpy" in report["rows"][0]]
    titles = {"numpy": "NumPy", "pytorch": "PyTorch", "sklearn": "scikit-learn"}
    lines = [
        f"Float32, {threads} threads, training samples/s: median over {report['rounds']} fresh processes per "
        f"framework, taking turns, of the median of each process's timed epochs; GFLOP/s counts 6·P per sample; "
        f"roof = NumPy sgemm measured in the same run: {roof:.0f} GFLOP/s; {report.get('core_types', '')}; "
        + ("each timed epoch right after a 1000×1000 NumPy product in the same process; "
           if report.get("numpy_first") else "")
        + (f"{report['busy']} busy process(es) spinning beside the measurement; " if report.get("busy") else "")
        + f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, fnn {fnn.__version__}, {time.strftime('%Y-%m-%d')}.",
        "",
        "| workload | fnn | GFLOP/s | of roof | " + " | ".join(f"{titles[n]} | fnn ÷ {titles[n]}" for n in names)
        + " | goal | met |",
        "|---" * (4 + 2 * len(names) + 2) + "|",
    ]
    for row in report["rows"]:
        w = row["workload"]
        gflops = row["fnn"] * w.flops_per_sample / 1e9
        cells = [w.label(), fmt_rate(row["fnn"]), f"{gflops:.1f}", f"{gflops / roof:.2f}"]
        for n in names:
            cells += [fmt_rate(row.get(n)), f"{row['fnn'] / row[n]:.2f}×" if row.get(n) else "–"]
        goals = [(n, g) for n, g in w.goals.items() if row.get(n)]
        cells.append(", ".join(f"≥ {g}× {titles[n]}" for n, g in goals) or "–")
        cells.append(", ".join("yes" if row["fnn"] / row[n] >= g else "no" for n, g in goals) or "–")
        lines.append("| " + " | ".join(cells) + " |")
    if "fnn_1_thread" in report["rows"][0]:
        lines += ["", "| workload | fnn 1 thread | fnn 2 threads | scaling | fnn float64 | NumPy float64 | "
                      "fnn ÷ NumPy (float64) | peak RSS of fit |", "|---" * 8 + "|"]
        for row in report["rows"]:
            w = row["workload"]
            np64 = row.get("numpy_float64")
            lines.append(
                f"| {w.label()} | {fmt_rate(row['fnn_1_thread'])} | {fmt_rate(row['fnn'])} | "
                f"{row['fnn'] / row['fnn_1_thread']:.2f}× | {fmt_rate(row['fnn_float64'])} | {fmt_rate(np64)} | "
                + (f"{row['fnn_float64'] / np64:.2f}×" if np64 else "–")
                + f" | {report['rss'][w.id]:.0f} MB |")
        torch_import = report.get("import_torch")
        lines += ["", f"`import fnn`: {report['import_fnn'] * 1e3:.0f} ms"
                  + (f"; `import torch`: {torch_import * 1e3:.0f} ms" if torch_import else "") + " (median of 3)."]
    return "\n".join(lines) + "\n"


def plot(report: Dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    series = [("fnn", "fnn")] + [(n, t) for n, t in (("numpy", "NumPy"), ("pytorch", "PyTorch"),
                                                      ("sklearn", "scikit-learn")) if rows[0].get(n)]
    label = lambda row: row["label"] if "label" in row else row["workload"].label()  # noqa: E731
    x = np.arange(len(rows))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, (key, title) in enumerate(series):
        ax.bar(x + i * width, [row[key] for row in rows], width, label=title)
    ax.set_yscale("log")
    ax.set_xticks(x + width * (len(series) - 1) / 2, [label(row) for row in rows], fontsize=8)
    ax.set_ylabel("training samples / s (log scale)")
    ax.set_title(f"SGD training throughput, float32, {report['threads']} threads")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report_of_markdown(text: str) -> Dict:
    """What plot() needs, read back from the first table of a latest.md that markdown() wrote:
    the figure is made from the committed table, not committed itself."""
    def rate(cell: str) -> float:
        cell = cell.strip()
        return float(cell[:-1]) * (1e6 if cell.endswith("M") else 1e3) if cell[-1:] in "kM" else float(cell)

    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    columns = {"fnn": "fnn", "NumPy": "numpy", "PyTorch": "pytorch", "scikit-learn": "sklearn"}
    rows = []
    for line in lines[2:]:
        if line.startswith("| workload"):
            break  # the second table
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append({"label": cells[0], **{columns[name]: rate(cells[header.index(name)])
                                           for name in columns if name in header}})
    threads = int(text.split(" threads", 1)[0].rsplit(" ", 1)[-1])
    return {"rows": rows, "threads": threads}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=fnn.network.default_threads())
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per process (median)")
    parser.add_argument("--rounds", type=int, default=3, help="processes per measurement, taking turns (median)")
    parser.add_argument("--only", nargs="*", help="workload ids, e.g. P1 P5")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the samples (and sizes) to use")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--no-extras", action="store_true", help="skip 1-thread, float64, RSS and import figures")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for latest.md and latest.png")
    parser.add_argument("--numpy-first", dest="numpy_first", action="store_true",
                        help="start every timed epoch right after a 1000x1000 NumPy product, as in a user's process")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="N busy processes spin beside every measurement (a neighbour on the machine)")
    parser.add_argument("--contended", action="store_true",
                        help="instead: default threads vs one thread with busy processes competing "
                             "(bench/contended.py)")
    parser.add_argument("--optimisers", action="store_true",
                        help="instead: every optimiser against torch.optim (bench/optimisers.py; other flags there)")
    parser.add_argument("--distributed", action="store_true",
                        help="instead: 1, 2 and 3 MPI ranks of fnn.scale.distributed (bench/distributed.py)")
    parser.add_argument("--inference", action="store_true",
                        help="instead: batch inference against PyTorch and scikit-learn (bench/inference.py)")
    parser.add_argument("--activations", action="store_true",
                        help="instead: every activation's training throughput against ReLU's (bench/activations.py)")
    parser.add_argument("--bfloat16", action="store_true",
                        help="instead: dtype='bfloat16' against float32 and PyTorch's autocast (bench/bfloat16.py)")
    parser.add_argument("--out-of-core", dest="out_of_core", action="store_true",
                        help="instead: peak memory of training from files larger than the buffer "
                             "(bench/out_of_core.py)")
    args, rest = parser.parse_known_args(argv)
    if args.distributed:
        from . import distributed

        return distributed.main(rest + ["--rounds", str(args.rounds), "--scale", str(args.scale)])
    if args.inference:
        from . import inference

        return inference.main(rest + ["--rounds", str(args.rounds)])
    if args.activations:
        from . import activations

        return activations.main(rest + ["--rounds", str(args.rounds), "--repeats", str(args.repeats)])
    if args.bfloat16:
        from . import bfloat16

        return bfloat16.main(rest + (["--only", *args.only] if args.only else [])
                             + ["--rounds", str(args.rounds), "--repeats", str(args.repeats)])
    if args.out_of_core:
        from . import out_of_core

        return out_of_core.main(rest)
    if args.optimisers:
        from . import optimisers

        return optimisers.main(rest + (["--only", *args.only] if args.only else [])
                               + ["--rounds", str(args.rounds), "--repeats", str(args.repeats)])
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.contended:
        chosen = [w for w in WORKLOADS + [DIGITS] if not args.only or w.id in args.only]
        contended.run(chosen, args.scale, args.repeats, args.rounds, args.out)
        return 0
    workloads = [scaled(w, args.scale) if args.scale != 1 else w for w in WORKLOADS
                 if not args.only or w.id in args.only]
    if args.threads > fnn.network.default_threads():
        parser.error(f"--threads {args.threads} exceeds the {fnn.network.default_threads()} cores available")
    run(workloads, args.threads, args.repeats, check_samples=512, baselines=not args.no_baselines,
        extras=not args.no_extras, out=args.out, scale=args.scale, rounds=args.rounds,
        numpy_first=args.numpy_first, busy=args.busy)
    return 0


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.run")
    sys.exit(main())
