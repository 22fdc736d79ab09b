"""Every figure of the documentation, made rather than committed: `python scripts/figures.py
[OUT]` (default docs/images; the site build runs it through scripts/docs_hooks.py).

- images/experiments/NAME.png: each of the chapter's experiments (`fnn experiment NAME`), ~1 min;
- images/learning-curve.png: `fnn train digits --test-fraction 0.2 --curve …`, as the command-line
  page shows it;
- images/bench/*.png: the benchmark charts, redrawn from the result tables committed under
  bench/results/ (the measurements are the tables; the charts only draw them);
- images/playground.png: `fnn playground` after 60 epochs on the circle, one sample step and a
  gradient check, in Chromium driven by Playwright (Debian's `chromium`, or $FNN_CHROMIUM).
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
    playground_screenshot(out / "playground.png")
    log(f"figures written to {out} in {time.perf_counter() - started:.0f} s")


def playground_screenshot(path: Path) -> None:
    """The playground's page, trained on the circle, as a reader first sees it working."""
    import os
    import shutil
    import threading

    from fnn.playground.server import PlaygroundServer

    chromium = os.environ.get("FNN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        raise SystemExit("the playground's screenshot needs Playwright and Chromium: pip install playwright; "
                         "apt-get install chromium (or set FNN_CHROMIUM)")
    server = PlaygroundServer("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            page.wait_for_selector("#algorithm li")
            page.click("#play")
            page.wait_for_function("Number(document.getElementById('epoch').textContent) >= 60")
            page.click("#play")
            page.click("#sample")
            page.wait_for_function("document.getElementById('trace').textContent.includes('δ')")
            page.click("#gradient-check")
            page.wait_for_selector("#gradient-result table")
            page.screenshot(path=str(path), full_page=True)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images")
