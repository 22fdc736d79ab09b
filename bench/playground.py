"""How fast the playground's page updates: `python -m bench.playground [--seconds S] [--rounds R]`.

For the first view (2-8-8-1 tanh on the circle's 500 points, 250 for training, batch 10), one
update is an epoch of training, the surface and neuron maps, the losses, JSON, and the drawing.
Measured three ways, in one run: the session alone (training and the state, as JSON), the same
over HTTP (urllib, the server in this process), and the page in Chromium (Playwright) playing
for `--seconds`, counted by its epoch counter. First, the page's test loss after its epochs is
checked against a session trained directly for as many epochs (same seed, one thread: the same
numbers), so the browser measures the same work. Writes bench/results/playground.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import threading
import time
import urllib.request
from pathlib import Path

from bench.environment import describe, restart_without_overrides
from fnn.playground.server import PlaygroundServer, _json
from fnn.playground.session import Session

RESULTS = Path(__file__).resolve().parent / "results" / "playground.md"


def session_updates(rounds: int) -> float:
    """Median seconds of one update in-process: an epoch, then the state as JSON bytes."""
    session, times = Session(), []
    for _ in range(rounds):
        started = time.perf_counter()
        _json(session.step_epochs(1))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def http_updates(server: PlaygroundServer, rounds: int) -> float:
    """Median seconds of one POST /api/step round trip, answer read and parsed."""
    def post(path, body):
        request = urllib.request.Request(server.url.rstrip("/") + path, json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    token = post("/api/session", {})["session"]
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        post("/api/step", {"session": token, "epochs": 1})
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def browser_rates(server: PlaygroundServer, chromium: str, seconds: float, rounds: int):
    """Updates per second of the page playing, one figure per round, each checked first."""
    from playwright.sync_api import sync_playwright

    rates = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for _ in range(rounds):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            page.wait_for_selector("#algorithm li")
            started = time.perf_counter()
            page.click("#play")
            page.wait_for_timeout(seconds * 1000)
            page.click("#play")
            elapsed = time.perf_counter() - started
            page.wait_for_timeout(300)  # the last update in flight lands
            epochs = int(page.text_content("#epoch").replace(",", ""))
            shown = float(page.text_content("#test-loss"))
            direct = Session()
            for _ in range(epochs):
                state = direct.step_epochs(1)
            expected = state["losses"]["test"][-1]
            if abs(shown - expected) > 1e-3:
                raise SystemExit(f"the page's test loss {shown} after {epochs} epochs is not the session's "
                                 f"{expected:.4f}: the browser did other work than measured")
            rates.append(epochs / elapsed)
            page.close()
        browser.close()
    return rates


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="playing time per browser round (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="browser rounds (default 3)")
    args = parser.parse_args(argv)
    chromium = os.environ.get("FNN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Chromium: apt-get install chromium (or set FNN_CHROMIUM), and pip install playwright")
    server = PlaygroundServer("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        in_process = session_updates(100)
        over_http = http_updates(server, 100)
        rates = browser_rates(server, chromium, args.seconds, args.rounds)
    finally:
        server.shutdown()
        server.server_close()
    command = f"python -m bench.playground --seconds {args.seconds:g} --rounds {args.rounds}"
    lines = [
        f"`{command}` ({describe()}):", "",
        "| one update (epoch + pictures) | median | updates/s |", "|---|---|---|",
        f"| session in-process (train, state, JSON) | {in_process * 1e3:.1f} ms | {1 / in_process:.0f} |",
        f"| over HTTP (urllib round trip) | {over_http * 1e3:.1f} ms | {1 / over_http:.0f} |",
        f"| the page in Chromium, playing ({args.rounds} × {args.seconds:g} s) | "
        f"{1e3 / statistics.median(rates):.1f} ms | {statistics.median(rates):.1f} "
        f"(rounds: {', '.join(f'{r:.1f}' for r in rates)}) |",
        "", "Goal (issue 28): at least 10 updates a second in the browser.", "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    restart_without_overrides("bench.playground")
    main()
