"""The quick comparison as a newcomer gets it: from the click on Home until every run of it has ended.

    python benchmarks/quick_comparison.py [--repeats 1] [--repo PATH] [--no-browser] [--json FILE]

Starts the app as `make run` does (`streamlit run serve.py`, a fresh data directory, loopback), opens Home in
Debian's Chromium (Playwright), waits until the page is drawn and its background worker is up (as a person
reading Home would), clicks "Quick comparison" and leaves the browser on the page the app opens (Train,
which watches the runs). It then reads the run store every half second until every run of the comparison
has ended, and reports per run: when it started and ended (seconds after the click), its training seconds
and what it spent outside training; then the phases summed, the total, and when the first lesson could
show (random init and one pretext run ended). At the end Results is opened and timed to its lesson.

``--repo`` runs another checkout's app (e.g. a `git worktree` of an older commit: the before of a
before/after), read through the store's SQLite file directly so any schema of it works. ``--no-browser``
queues the same plan straight into the store (this checkout only) and opens no page: what a watching page
costs is the difference. Target (issue 20): <= 120 s on a quiet 2-core machine, first lesson <= 45 s.
"""

import argparse
import json
import os
import socket
import sqlite3
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
         "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
ENDED = ("succeeded", "failed", "cancelled")
BASELINE, REFERENCE, TUNED = "random_init", "supervised", "finetune"  # the store's run kinds (benchmark: literals)


def serve(repo: Path, data: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port), "--server.headless",
         "true", "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=repo, env={**os.environ, "PRETEXT_LAB_DATA_DIR": data, "PYTHONPATH": str(repo)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the app did not become healthy in 120 s")


def read_runs(data: str) -> list[dict]:
    """Every run in the store, as plain rows (any schema with these columns)."""
    path = Path(data) / "runs.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=10) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT task, status, created, started, finished, results FROM runs").fetchall()
    return [dict(r) for r in rows]


def worker_alive(data: str) -> bool:
    """A worker has registered (the store's workers table, where it has one), or a few seconds passed."""
    path = Path(data) / "runs.sqlite"
    try:
        with sqlite3.connect(path, timeout=10) as db:
            return db.execute("SELECT COUNT(*) FROM workers").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def wait_until_ended(data: str, clicked: float, expected: int, limit: float) -> list[dict]:
    while time.time() - clicked < limit:
        runs = read_runs(data)
        if len(runs) >= expected and all(r["status"] in ENDED for r in runs):
            return runs
        time.sleep(0.5)
    raise RuntimeError(f"the comparison had not ended {limit:.0f} s after the click")


def queue_without_browser(data: str) -> float:
    """Queue exactly what Home's button queues (this checkout), start the worker; the click time."""
    os.environ["PRETEXT_LAB_DATA_DIR"] = data
    from sslcore import lab
    from sslcore.runs import RunStore

    lab.ensure_worker(data)
    deadline = time.monotonic() + 60
    while not worker_alive(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    clicked = time.time()
    store = RunStore(data)
    runs = lab.quick_runs()
    group, ids = store.submit_group(runs, owner="bench")
    for config in lab.quick_finetunes(runs, ids):
        store.submit(config, group, owner="bench")
    return clicked


def bench_pass(data: str) -> str:
    """The signed pass of the name "bench", claimed in this data folder: the cookie a signed-in browser keeps."""
    from sslcore.runs import RunStore
    from sslcore.runs.owners import Owners

    owners = Owners(RunStore(data))
    return owners.issue_pass(owners.claim("bench")[0])


def one_comparison(repo: Path, browser_on: bool, expected: int, limit: float) -> dict:
    data = tempfile.mkdtemp(prefix="quick-bench-")
    proc, url = serve(repo, data)
    try:
        if not browser_on:
            clicked = queue_without_browser(data)
            runs = wait_until_ended(data, clicked, expected, limit)
            return summarise(runs, clicked, results_s=None)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            if (repo / "sslcore" / "runs" / "owners.py").exists():  # queueing needs a signed-in name: be "bench"
                context.add_cookies([{"name": "pretext_lab_pass", "value": bench_pass(data), "url": url}])
            page = context.new_page()
            page.goto(url)
            button = page.get_by_role("button", name="Quick comparison")
            button.wait_for(timeout=120_000)
            page.get_by_text("The tasks").first.wait_for(timeout=120_000)  # the whole page is drawn
            deadline = time.monotonic() + 60
            while not worker_alive(data) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)  # a person reads the button's caption
            clicked = time.time()
            button.click()
            runs = wait_until_ended(data, clicked, expected, limit)
            opened = time.perf_counter()
            page.goto(f"{url}/results")
            try:  # an older checkout's Results has no lesson: then no time
                page.get_by_text("frozen features").first.wait_for(timeout=60_000)
                results_s = time.perf_counter() - opened
            except Exception:  # noqa: BLE001 - Playwright's timeout
                results_s = None
            browser.close()
        return summarise(runs, clicked, results_s)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def summarise(runs: list[dict], clicked: float, results_s: float | None) -> dict:
    rows = []
    for r in sorted(runs, key=lambda r: r["started"] or r["created"]):
        results = json.loads(r["results"]) if r["results"] else {}
        wall = (r["finished"] or 0) - (r["started"] or 0)
        train = results.get("train_seconds") or 0.0
        rows.append({
            "task": r["task"], "status": r["status"], "started_s": (r["started"] or clicked) - clicked,
            "ended_s": (r["finished"] or clicked) - clicked, "run_s": wall, "train_s": train,
            "outside_s": wall - train, "steps": results.get("steps"), "precision": results.get("precision"),
        })  # fmt: skip
    ends = {}
    for row in rows:
        ends.setdefault(row["task"], row["ended_s"])
    pretext_ends = [r["ended_s"] for r in rows if r["task"] not in (BASELINE, REFERENCE, TUNED)]
    first_lesson = max(ends.get(BASELINE, 0.0), min(pretext_ends)) if pretext_ends else None
    starts = [r["started_s"] for r in rows]
    gaps = sum(b["started_s"] - a["ended_s"] for a, b in zip(rows, rows[1:])) + (min(starts) if starts else 0)
    return {
        "total_s": max(r["ended_s"] for r in rows),
        "first_lesson_s": first_lesson,
        "train_s": sum(r["train_s"] for r in rows),
        "outside_s": sum(r["outside_s"] for r in rows),
        "between_runs_s": gaps,
        "results_page_s": results_s,
        "runs": rows,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--repo", default=str(ROOT), help="the checkout whose app to run (default: this one)")
    parser.add_argument("--no-browser", action="store_true", help="queue the plan directly, no page open")
    parser.add_argument("--runs", type=int, default=9, help="runs the comparison queues (9: 4 + random init + 4)")
    parser.add_argument("--limit", type=float, default=900.0, help="give up this many seconds after the click")
    parser.add_argument("--json", help="write every measurement to this file")
    args = parser.parse_args(argv)
    repo = Path(args.repo).resolve()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    print(f"Machine: {machine()}\nCheckout: {repo} at {commit.strip()}; browser: {not args.no_browser}\n")
    done = [one_comparison(repo, not args.no_browser, args.runs, args.limit) for _ in range(args.repeats)]
    last = done[-1]
    print("| run | started s | ended s | run s | training s | outside training s | steps | precision |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in last["runs"]:
        print(
            f"| {r['task']} | {r['started_s']:.1f} | {r['ended_s']:.1f} | {r['run_s']:.1f} | {r['train_s']:.1f} | "
            f"{r['outside_s']:.1f} | {r['steps']} | {r['precision'] or '—'} |"
        )
    med = {key: statistics.median(d[key] for d in done if d[key] is not None) if any(d[key] is not None for d in done)
           else None for key in ("total_s", "first_lesson_s", "train_s", "outside_s", "between_runs_s", "results_page_s")}  # fmt: skip
    print(
        f"\nMedian of {len(done)}: click to every run ended {med['total_s']:.1f} s; first lesson possible at "
        f"{med['first_lesson_s']:.1f} s; training {med['train_s']:.1f} s, outside training {med['outside_s']:.1f} s, "
        f"between runs {med['between_runs_s']:.1f} s"
        + (f"; Results drawn with its lesson in {med['results_page_s']:.1f} s" if med["results_page_s"] else "")
    )
    if args.json:
        Path(args.json).write_text(json.dumps(done, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
