"""What an open Train page costs a run: the same run trained with no browser open, and with Chromium on Train.

    python benchmarks/watch_cost.py [--repeats 3] [--siblings 7] [--compute FLOPS] [--idle-probe 20]
                                    [--watch-probe 30]

Starts the app as the browser tests do (`streamlit run app.py` on loopback, its own temporary data directory)
and the background worker (idle exit far away, so one warm worker trains every run). Setup: one comparison is
queued as a named owner and trained (a rotation run at the quick comparison's compute, one rotation per image,
and its random-init baseline), and its finished rotation run is copied ``--siblings`` times into the same
comparison, so the page watches what the Home page's quick comparison leaves (9 runs of one group, by default). Then, per repeat, the same rotation
run (same config and seed, so the same work) is queued into that comparison twice: once with no browser, once
with Chromium opening ``/train`` signed in as its owner (the page of the person who queued it) right after it was queued,
as Home's quick comparison switches to Train, and watching until it has ended; the order alternates between
repeats.

Per run it reads the run's results (training seconds, probes excluded; steps; images seen), the CPU seconds
the Streamlit server and Chromium used meanwhile and the whole machine's busy CPU seconds (from /proc: the
last shows what else was running), and counts the page's script runs (its full runs and fragment reruns: the
polls) and the bytes the server sent it. Medians over repeats; the speed ratio open / closed is the number to
watch (target: ≥ 0.85). Afterwards, with every run finished, two probes of one open Train page (after its
first load): ``--idle-probe S`` seconds idle, and ``--watch-probe S`` seconds watching a fake running run
whose events a thread writes as the worker does, training nothing: the page's own CPU cost, free of the
training's noise.

The machine is shared: training speed moves with whatever else runs; CPU seconds of the page are steadier.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from e2e.server import CONNECTED, StreamlitServer, launch_browser, stop_workers  # noqa: E402

from benchmarks.common import TICK, busy_ticks, machine, processes  # noqa: E402

OWNER = "watcher"
OWNER_PASS: str | None = None  # set in main: the owner's signed pass, so each tab opens Train signed in


# -- CPU seconds per process kind, from /proc ----------------------------------------------------------------
def cpu_by_pid(server_pid: int) -> dict[int, tuple[str, float]]:
    """(kind, CPU seconds so far) of the Streamlit server and of every Chromium process on this machine."""
    out = {}
    for pid, comm, _, ticks in processes():
        if pid == server_pid:
            out[pid] = ("server", ticks / TICK)
        elif "chrom" in comm:
            out[pid] = ("chromium", ticks / TICK)
    return out


def cpu_delta(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per kind between two ``cpu_by_pid``: processes that started meanwhile count whole; those that
    ended meanwhile (a closed tab's renderer) are left out, their last seconds lost."""
    out = {"server": 0.0, "chromium": 0.0}
    for pid, (kind, seconds) in after.items():
        out[kind] += seconds - before.get(pid, (kind, 0.0))[1]
    return out


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, every process: the other engineers' too)."""
    return busy_ticks() / TICK


# -- the page's traffic ----------------------------------------------------------------------------------------
class Traffic:
    """Counts the script runs a page's session finished (full runs and fragment reruns) and the bytes received."""

    def __init__(self, page):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.forward, self.runs, self.bytes = ForwardMsg, 0, 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._received))

    def _received(self, payload) -> None:
        if not isinstance(payload, bytes):
            return
        self.bytes += len(payload)
        try:
            msg = self.forward.FromString(payload)
        except Exception:  # not a ForwardMsg
            return
        if msg.WhichOneof("type") == "script_finished":
            self.runs += 1


# -- the runs ----------------------------------------------------------------------------------------------------
def wait_done(store, run_id: str, page=None, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not store.get(run_id).done:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} did not finish in {timeout:.0f} s")
        if page is not None:
            page.wait_for_timeout(500)  # lets Playwright deliver the websocket events meanwhile
        else:
            time.sleep(0.5)


def copy_run(db_path: Path, source: str, copies: int) -> None:
    """``copies`` finished copies of a finished run (row and events) in its comparison, just after it.

    Written straight into SQLite: the store has no "clone" (nobody else needs one); these rows only have to
    look to the Train page like the runs the quick comparison leaves."""
    with sqlite3.connect(db_path) as db:
        cols = [r[1] for r in db.execute("PRAGMA table_info(runs)") if r[1] not in ("id", "created")]
        names = ", ".join(cols)
        for i in range(copies):
            new = uuid.uuid4().hex[:12]
            db.execute(
                f"INSERT INTO runs (id, created, {names}) SELECT ?, created + ?, {names} FROM runs WHERE id = ?",
                (new, 1e-3 * (i + 1), source),
            )
            db.execute(
                "INSERT INTO events (run_id, seq, time, data) SELECT ?, seq, time, data FROM events WHERE run_id = ?",
                (new, source),
            )


def open_train_page(browser, url: str):
    """(context, page, its Traffic) of a fresh tab on the Train page at ``url``, once its queue is drawn."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    if OWNER_PASS:  # signed in as the owner, as after a sign-in: the pass cookie the app sets
        context.add_cookies([{"name": "pretext_lab_pass", "value": OWNER_PASS, "url": url}])
    page = context.new_page()
    traffic = Traffic(page)
    page.goto(url)
    page.wait_for_selector(CONNECTED)
    page.get_by_text("Queue ·").first.wait_for(timeout=120_000)
    return context, page, traffic


def train_once(store, lab, config, group: str, data: str, server, browser, url: str | None) -> dict:
    """Queue one run into ``group`` and wait for it, with the Train page open at ``url`` (None: no browser)."""
    page = context = traffic = None
    cpu0, busy0 = cpu_by_pid(server.proc.pid), machine_busy()
    run_id = store.submit(config, group_id=group, owner=OWNER)
    lab.ensure_worker(data)
    if url is not None:  # opened as the Home page's quick comparison does: right after the runs were queued
        context, page, traffic = open_train_page(browser, url)
    wait_done(store, run_id, page)
    cpu, busy = cpu_delta(cpu0, cpu_by_pid(server.proc.pid)), machine_busy() - busy0
    if page is not None:
        context.close()
    run = store.get(run_id)
    if run.status != "succeeded":
        raise RuntimeError(f"run {run_id} {run.status}: {run.error}")
    r = run.results_record
    train_s = r.wall_s or r.train_seconds
    return {
        "train_s": train_s,
        "steps": r.steps,
        "images_seen": r.images_seen,
        "img_s": r.images_seen / train_s,
        "run_s": run.finished - run.started,
        "server_cpu": cpu["server"],
        "chromium_cpu": cpu["chromium"],
        "machine_cpu": busy,
        "script_runs": traffic.runs if traffic else 0,
        "mb_sent": (traffic.bytes if traffic else 0) / 1e6,
    }


def page_probe(server, browser, url: str, seconds: float) -> dict:
    """CPU seconds and traffic of ``seconds`` of one open Train page, after its first load has settled."""
    context, page, traffic = open_train_page(browser, url)
    page.wait_for_timeout(3000)
    runs0, bytes0, cpu0 = traffic.runs, traffic.bytes, cpu_by_pid(server.proc.pid)
    page.wait_for_timeout(1000 * seconds)
    cpu = cpu_delta(cpu0, cpu_by_pid(server.proc.pid))
    out = {**cpu, "script_runs": traffic.runs - runs0, "mb_sent": (traffic.bytes - bytes0) / 1e6}
    context.close()
    return out


class FakeRun:
    """A running run in ``group`` that trains nothing: a thread writes step events 4 times a second (as the
    worker's throttle does), a probe event every 5 s, and heartbeats. What a watching page costs, measured
    without a training run beside it to share the cores with (the machine's noise)."""

    def __init__(self, store, group: str, source: str):
        self.store, self.id, self.stop = store, uuid.uuid4().hex[:12], threading.Event()
        store.register_worker("w-probe", os.getpid(), "probe")
        with sqlite3.connect(store.path) as db:
            db.execute(
                "INSERT INTO runs (id, group_id, kind, task, config, status, created, started, worker_id, heartbeat, "
                "owner) SELECT ?, group_id, kind, task, config, 'running', ?, ?, 'w-probe', ?, owner FROM runs "
                "WHERE id = ?",
                (self.id, time.time(), time.time(), time.time(), source),
            )
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        start, step = time.monotonic(), 0
        while not self.stop.wait(0.25):
            elapsed, step = time.monotonic() - start, step + 1
            self.store.add_event(
                self.id,
                {
                    "kind": "step",
                    "step": step,
                    "loss": 2 / (1 + 0.01 * step),
                    "metric": min(1.0, 0.002 * step),
                    "elapsed": elapsed,
                    "progress": min(1.0, elapsed / 600),
                    "images_per_s": 300.0,
                    "eta": 60.0,
                },
                progress=True,
            )
            if step % 20 == 0:
                self.store.add_event(self.id, {"kind": "probe", "step": step, "knn": 0.3, "elapsed": elapsed})
            self.store.beat("w-probe", [self.id])

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.store.finish(self.id, "cancelled")
        self.store.delete(self.id, by=OWNER)
        self.store.worker_stopped("w-probe")


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main(argv=None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode (closed, open)")
    parser.add_argument("--siblings", type=int, default=7, help="finished copies of the setup run in the group")
    parser.add_argument("--compute", type=float, default=None, help="FLOPs per run (default: the quick runs')")
    parser.add_argument("--idle-probe", type=float, default=20, help="seconds of an idle open page (0: skip)")
    parser.add_argument("--watch-probe", type=float, default=30, help="seconds of a page watching a fake run (0: skip)")
    args = parser.parse_args(argv)

    os.environ["PRETEXT_LAB_WORKER_IDLE_S"] = "900"  # one warm worker for every run (it inherits this)
    from sslcore import lab, plans

    config = lab.TrainConfig(  # a quick-comparison run: its compute, cap and probes; rotation, one per image
        task="rotation",
        params={"all_rotations": False},
        compute=args.compute or plans.QUICK_COMPUTE,
        max_seconds=plans.QUICK_MAX_SECONDS,
        probe_points=plans.QUICK_PROBE_POINTS,
        seed=0,
    ).validate()
    print(f"Machine: {machine()}; load average at start {os.getloadavg()[0]:.2f}\n")
    with tempfile.TemporaryDirectory() as data, sync_playwright() as pw:
        os.environ["PRETEXT_LAB_DATA_DIR"] = data
        server = StreamlitServer(data, log=Path(data) / "server.log")
        server.start()
        browser = None
        url = f"{server.url}/train"
        try:
            browser = launch_browser(pw)
            store = lab.RunStore(data)
            global OWNER_PASS
            owners = lab.Owners(store)
            OWNER_PASS = owners.issue_pass(owners.claim(OWNER)[0])
            group, ids = store.submit_group([config], owner=OWNER)  # setup: warms the worker up, too
            lab.ensure_worker(data)
            for run_id in store.list():
                wait_done(store, run_id.id)
            copy_run(store.path, ids[0], args.siblings)
            page_probe(server, browser, url, 0)  # untimed: the server's first page run imports torch
            rows: dict[str, list[dict]] = {"closed": [], "open": []}
            for repeat in range(args.repeats):
                for mode in ("closed", "open") if repeat % 2 == 0 else ("open", "closed"):
                    row = train_once(store, lab, config, group, data, server, browser, url if mode == "open" else None)
                    rows[mode].append(row)
                    print(f"<!-- repeat {repeat + 1}, {mode}: {row} -->", flush=True)
            idle = page_probe(server, browser, url, args.idle_probe) if args.idle_probe else None
            watch = None
            if args.watch_probe:
                fake = FakeRun(store, group, ids[0])
                try:
                    watch = page_probe(server, browser, url, args.watch_probe)
                finally:
                    fake.close()
            shown = len(store.list(group_id=group))
        finally:
            if browser is not None:
                browser.close()
            server.stop()
            stop_workers(data)

    if args.repeats:
        print(
            f"\nOne rotation run at the quick comparison's compute ({lab.format_flops(config.compute)}, "
            f"{rows['closed'][0]['steps']} steps), median of {args.repeats}; the page showed a comparison of "
            f"{shown - 2 * args.repeats + 1}–{shown} runs.\n"
        )
        print(
            "| Train page | training s | img/s | run s (all) | server CPU s | Chromium CPU s | machine CPU s (all) "
            "| page script runs | MB sent |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for mode, label in (("closed", "closed (no browser)"), ("open", "open in Chromium")):
            r = rows[mode]
            print(
                f"| {label} | {med(r, 'train_s'):.1f} | {med(r, 'img_s'):.0f} | {med(r, 'run_s'):.1f} | "
                f"{med(r, 'server_cpu'):.1f} | {med(r, 'chromium_cpu'):.1f} | {med(r, 'machine_cpu'):.0f} | "
                f"{med(r, 'script_runs'):.0f} | {med(r, 'mb_sent'):.2f} |"
            )
        ratio = med(rows["open"], "img_s") / med(rows["closed"], "img_s")
        print(f"\nSpeed with the page open / closed: **{ratio:.2f}** (target ≥ 0.85).")
    probes = [
        (idle, args.idle_probe, "idle: nothing queued or running"),
        (watch, args.watch_probe, "watching a running run that trains nothing (events written 4/s, no training)"),
    ]
    if idle or watch:
        print(f"\nOne open Train page, its comparison {shown} finished runs, after its first load:\n")
        print("| page | seconds | server CPU s | Chromium CPU s | script runs | MB sent |")
        print("|---|---|---|---|---|---|")
    for probe, seconds, label in probes:
        if probe:
            print(
                f"| {label} | {seconds:.0f} | {probe['server']:.2f} | {probe['chromium']:.2f} | "
                f"{probe['script_runs']} | {probe['mb_sent']:.2f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
