"""How fast the app answers in a real browser: first visit of Home, and a task change on Explore.

    python benchmarks/app_load.py [--repeats 5]

Starts `streamlit run app.py` (and, as the named baseline, a one-line Streamlit app) on loopback, waits
for /_stcore/health, then drives Debian's Chromium with Playwright: each first visit uses a fresh browser
context, timed from navigation until the page's script has finished and its content is visible.
Targets: Home ≤ 3 s after the server reports healthy; an Explore preview update ≤ 1 s.
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

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


def serve(script: str, data: str) -> tuple[subprocess.Popen, str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "PRETEXT_LAB_DATA_DIR": data},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url, time.monotonic() - started
        except OSError:
            time.sleep(0.1)


def first_visit(browser, url: str, text: str) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']")
    page.get_by_text(text).first.wait_for()
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached")
    elapsed = time.perf_counter() - start
    context.close()
    return elapsed


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
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory() as data, sync_playwright() as pw:
        app, app_url, app_boot = serve("app.py", data)
        bare, bare_url, bare_boot = serve("benchmarks/bare_app.py", data)
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS, headless=True)
        try:
            home = [first_visit(browser, app_url, "The tasks") for _ in range(args.repeats)]
            baseline = [first_visit(browser, bare_url, "Bare Streamlit page") for _ in range(args.repeats)]
            changes = task_changes(browser, app_url, args.repeats * 2)
        finally:
            browser.close()
            for proc in (app, bare):
                proc.terminate()
                proc.wait(timeout=30)
    h, b, c = (statistics.median(v) for v in (home, baseline, changes))
    print(f"Server start to healthy: app {app_boot:.1f} s, bare page {bare_boot:.1f} s\n")
    print("| measurement | median (s) | all runs (s) | vs bare Streamlit page |")
    print("|---|---:|---|---:|")
    print(f"| bare one-line Streamlit page, first visit | {b:.2f} | {', '.join(f'{v:.2f}' for v in baseline)} | 1.0× |")
    print(f"| Home, first visit (target ≤ 3 s) | {h:.2f} | {', '.join(f'{v:.2f}' for v in home)} | {h / b:.1f}× |")
    print(f"| Explore, change task → new preview (target ≤ 1 s) | {c:.2f} | {', '.join(f'{v:.2f}' for v in changes)} | — |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
