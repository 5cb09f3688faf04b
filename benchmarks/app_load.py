"""How fast the app answers in a real browser: the first visit after a start, later visits, a task change.

    python benchmarks/app_load.py [--repeats 5] [--cold 5]

Starts the app as `make run` does (`streamlit run serve.py`), and plain `streamlit run app.py`, and, as the
named baseline, a one-line Streamlit app, on loopback; waits for /_stcore/health, then drives Debian's Chromium with Playwright; every visit uses a fresh browser
context. **Cold**: a new server for each repeat, visited as soon as it is healthy (what the first person
after `make run` gets: torch is not imported yet), timed to Home's first paragraph on screen ("text") and
to the page's script finished with the task cards drawn ("whole"). **Warm**: later first visits of the same
server. Targets: cold text ≤ 1.5 s, cold whole page ≤ 3 s; an Explore preview update ≤ 1 s.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine  # noqa: E402

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def serve(script: str, data: str, cwd: Path = ROOT, env: dict | None = None) -> tuple[subprocess.Popen, str, float]:
    """Start ``streamlit run script`` from ``cwd`` on a free loopback port; (process, url, seconds to healthy)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=cwd,
        env={**os.environ, **(env or {}), "PRETEXT_LAB_DATA_DIR": data},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url, time.monotonic() - started
        except OSError:
            time.sleep(0.1)


INTRO = "Self-supervised learning"  # Home's first paragraph: the text a visitor reads first
LAST = "The tasks"  # drawn after the quick-comparison button: the page got past its torch-backed part


def first_visit(browser, url: str, text: str, last: str | None = None) -> tuple[float, float]:
    """Seconds from navigation to ``text`` on screen, and to the script finished with ``last`` visible."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.get_by_text(text).first.wait_for()
    shown = time.perf_counter() - start
    page.get_by_text(last or text).first.wait_for()
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached")
    # the status widget can be absent for a moment before the script starts: ask again after a beat
    page.wait_for_timeout(100)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached")
    whole = time.perf_counter() - start - 0.1
    context.close()
    return shown, whole


def cold_visits(browser, data: str, repeats: int, script: str) -> list[tuple[float, float, float]]:
    """A fresh server per repeat, visited once it is healthy: (server start, text, whole page) seconds."""
    out = []
    for _ in range(repeats):
        proc, url, boot = serve(script, data)
        try:
            out.append((boot, *first_visit(browser, url, INTRO, LAST)))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return out


def task_changes(browser, url: str, repeats: int) -> list[float]:
    """Pick another task in Explore's sidebar and time until that task's pseudo-labels are on screen."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/explore")
    page.get_by_text("rotated").first.wait_for()
    times = []
    for i in range(repeats):
        title, label = [("Jigsaw puzzle", "permutation"), ("Rotation prediction", "rotated")][i % 2]
        page.get_by_test_id("stSelectbox").first.click()
        start = time.perf_counter()
        page.get_by_role("option", name=title).click()
        page.get_by_text(label).first.wait_for()
        page.wait_for_selector("[data-testid='stStatusWidget']", state="detached")
        times.append(time.perf_counter() - start)
    page.close()
    return times


def main(argv=None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="warm visits, bare-page visits (and 2x task changes)")
    parser.add_argument("--cold", type=int, default=5, help="fresh servers, each visited once")
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory() as data, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS, headless=True)
        bare, bare_url, _ = serve("benchmarks/bare_app.py", data)
        try:
            baseline = [first_visit(browser, bare_url, "Bare Streamlit page")[1] for _ in range(args.repeats)]
            cold = cold_visits(browser, data, args.cold, "serve.py")
            cold_app = cold_visits(browser, data, args.cold, "app.py")
            app, app_url, _ = serve("serve.py", data)
            try:
                warm = [first_visit(browser, app_url, INTRO, LAST) for _ in range(args.repeats + 1)][1:]
                changes = task_changes(browser, app_url, args.repeats * 2)
            finally:
                app.terminate()
                app.wait(timeout=30)
        finally:
            browser.close()
            bare.terminate()
            bare.wait(timeout=30)
    b = statistics.median(baseline)
    rows = [
        ("bare one-line Streamlit page, first visit (baseline)", baseline),
        ("Home, first visit after `make run` (serve.py): text on screen (target ≤ 1.5 s)", [v[1] for v in cold]),
        ("Home, first visit after `make run` (serve.py): whole page (target ≤ 3 s)", [v[2] for v in cold]),
        ("Home, first visit after `streamlit run app.py`: text on screen", [v[1] for v in cold_app]),
        ("Home, first visit after `streamlit run app.py`: whole page", [v[2] for v in cold_app]),
        ("Home, later first visits: text on screen", [v[0] for v in warm]),
        ("Home, later first visits: whole page", [v[1] for v in warm]),
    ]
    print(f"Server start to healthy (median of {args.cold}): {statistics.median(v[0] for v in cold):.1f} s\n")
    print("| measurement | median (s) | all runs (s) | vs bare Streamlit page |")
    print("|---|---:|---|---:|")
    for name, values in rows:
        m = statistics.median(values)
        print(f"| {name} | {m:.2f} | {', '.join(f'{v:.2f}' for v in values)} | {m / b:.1f}× |")
    c = statistics.median(changes)
    print(
        f"| Explore, change task → new preview (target ≤ 1 s) | {c:.2f} | {', '.join(f'{v:.2f}' for v in changes)} | — |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
