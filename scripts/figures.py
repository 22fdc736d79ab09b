"""Every figure of the documentation, made rather than committed: `python scripts/figures.py
[OUT]` (default docs/images; the site build runs it through scripts/docs_hooks.py).

- images/experiments/NAME.png: each of the chapter's experiments (`fnn experiment NAME`), ~1 min;
- images/learning-curve.png: `fnn train digits --test-fraction 0.2 --curve …`, as the command-line
  page shows it;
- images/bench/*.png: the benchmark charts, redrawn from the result tables committed under
  bench/results/ (the measurements are the tables; the charts only draw them).
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make(out: Path, log=print) -> None:
    sys.path.insert(0, str(ROOT))  # bench/
    from bench import run, tabular
    from fnn.chapter.experiments import EXPERIMENTS, run_experiment
    from fnn.cli import main as fnn_main

    started = time.perf_counter()
    (out / "experiments").mkdir(parents=True, exist_ok=True)
    for name in EXPERIMENTS:
        run_experiment(name, out / "experiments" / f"{name}.png")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = fnn_main(["train", "digits", "--test-fraction", "0.2", "--curve", str(out / "learning-curve.png"),
                           "-o", str(out / "learning-curve.fnn")])
    (out / "learning-curve.fnn").unlink(missing_ok=True)
    if status != 0:
        raise SystemExit("fnn train failed while drawing the learning curve")
    (out / "bench").mkdir(exist_ok=True)
    results = ROOT / "bench" / "results"
    run.plot(run.report_of_markdown((results / "latest.md").read_text()), out / "bench" / "latest.png")
    run.plot(run.report_of_markdown((results / "busy" / "latest.md").read_text()), out / "bench" / "busy.png")
    tabular.plot(tabular._rows_of_table((results / "tabular.md").read_text()), out / "bench" / "tabular.png")
    log(f"figures written to {out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images")
