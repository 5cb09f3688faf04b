"""Many students at once: concurrent headless browser sessions against one `streamlit run app.py`.

    python benchmarks/load_test.py [--sessions 1 5 20] [--timeout 600] [--ramp 0] [--budget 2]
                                   [--cost-probe K] [--idle-probe S] [--nice-worker] [--server-threads N]
                                   [--pin SERVER_CPUS:BROWSER_CPUS]

For each level, a fresh data directory and a fresh server on loopback (warmed by one untimed visit, which
also starts the background worker); then N browser contexts in one Debian Chromium (one context = one
Streamlit session), all started together. Each session:

1. opens Home (first load: navigation → the page's script has finished and its images are shown);
2. goes to Explore, picks "Your own images", uploads two small PNGs (made with Pillow) → preview shown;
3. changes the task to Jigsaw → preview updated; changes the seed knob → preview updated;
4. goes to Train, asks for one rotation run with the smallest budget and dataset the form allows and a
   seed of its own, presses Start → "Queued" and its run's id listed in the live queue.

A step is done when the server has reported the script run finished (Streamlit's `script_finished`
message on the websocket) *and* the page shows the new content and as many images as that run sent, with
no stale element, every image loaded and no DOM change for 300 ms; its time is that of the page's last
change (the quiet period is not counted). "server" times are from the browser's rerun request to
`script_finished`. Sessions stay on the
Train page (whose queue polls every 2 s) until every session is done, as a class would.

Afterwards the run store (read only) must show every submitted run exactly once: one rotation run per
session, each with its random-init baseline, every one finished successfully, one "start" event each.
CPU time is split by process (server, worker, Chromium, the Playwright driver and this script, and
everything else on the machine) from /proc, and the 1-minute load average is sampled throughout.
Optional probes: the CPU one preview update costs each process (--cost-probe), and what idle open pages
cost on Train (whose queue polls) and on Explore (--idle-probe). Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from e2e.server import (  # noqa: E402
    CHANGES,
    CONNECTED,
    SETTLED,
    ScriptRuns,
    StreamlitServer,
    launch_browser,
    png,
    settled_args,
    stop_workers,
)

from benchmarks.common import TICK, busy_ticks, machine, processes  # noqa: E402

PREVIEW_TARGET_S = 2.0
POLL_MS = 100  # how often a page checks whether it has settled (not every frame: 20 pages would eat a core)
STEPS = {
    "first_load": "Home, first load",
    "explore": "Home → Explore",
    "upload": "upload 2 PNGs → preview",
    "task": "change task → preview",
    "knob": "change a knob (seed) → preview",
    "preview": "preview update (task + knob)",
    "server_preview": "… of which server (rerun → script finished)",
    "train": "Explore → Train",
    "submit": "Start → queued and listed",
}


# -- the browser side --------------------------------------------------------------------------------------
async def step(page, proto: ScriptRuns, action, needle: str, timeout: float, navigation: bool = False):
    """Do ``action``; wait until the server has finished the rerun it causes and the page has settled.

    Returns (seconds from the action to the page's last change, seconds from the browser's rerun request
    to the server's script_finished, when one was seen). Times of the page come from its own clock, so the
    quiet period that proves it settled is not counted.
    """
    runs, reruns = len(proto.finished), len(proto.reruns)
    t0 = 0.0 if navigation else await page.evaluate("performance.now()")
    await action()
    finished = await proto.wait_async(runs, timeout)
    handle = await page.wait_for_function(
        SETTLED, arg=settled_args(proto, runs, needle), polling=POLL_MS, timeout=timeout * 1000
    )
    last = await handle.json_value()
    sent = proto.reruns[reruns] if len(proto.reruns) > reruns else None
    return (last - t0) / 1000, (finished - sent if sent is not None and finished >= sent else None)


def student_pass(data: str, i: int) -> str:
    """Student ``i``'s signed pass: the name student-<i>, claimed in this data folder."""
    from sslcore.runs import RunStore
    from sslcore.runs.owners import Owners

    owners = Owners(RunStore(data))
    return owners.issue_pass(owners.claim(f"student-{i}")[0])


async def session(i: int, browser, url: str, data: str, args, done: asyncio.Event, finished: list) -> dict:
    seed = 1000 + i
    out: dict = {"seed": seed}
    timeout = min(args.timeout, 120)
    await asyncio.sleep(args.ramp * i / max(1, args.n))
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(CHANGES)
    # each student is signed in (queueing needs a name with its secret): the pass cookie a sign-in leaves
    await context.add_cookies([{"name": "pretext_lab_pass", "value": student_pass(data, i), "url": url}])
    try:
        async with asyncio.timeout(args.timeout):
            await flow(i, context, url, data, args, out, seed, timeout)
    except Exception as err:  # a failed session is a result, not a crash
        out["error"] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    finally:
        finished.append(i)
        if len(finished) == args.n:
            done.set()
        try:
            await asyncio.wait_for(done.wait(), timeout=args.timeout)
        except TimeoutError:
            pass
        await context.close()
    return out


async def flow(i: int, context, url: str, data: str, args, out: dict, seed: int, timeout: float) -> None:
    from sslcore.runs import RunStore

    page = await context.new_page()
    page.set_default_timeout(timeout * 1000)
    proto = ScriptRuns(page)
    nav = page.get_by_test_id("stSidebarNav")

    async def go_home():
        await page.goto(url)
        await page.wait_for_selector(CONNECTED)

    out["first_load"], _ = await step(page, proto, go_home, "The tasks", timeout, navigation=True)
    out["explore"], _ = await step(
        page, proto, lambda: nav.get_by_role("link", name=re.compile("Explore")).click(), "Explore", timeout
    )
    await step(page, proto, lambda: page.get_by_text("Your own images").click(), "Upload a few images", timeout)
    files = [{"name": f"s{i}-{k}.png", "mimeType": "image/png", "buffer": png((40 * k, 90, 200), mark=i + k)}
             for k in range(2)]
    out["upload"], _ = await step(
        page, proto, lambda: page.locator("input[type='file']").set_input_files(files), "from 2 images", timeout
    )

    async def pick_jigsaw():
        await page.get_by_test_id("stSelectbox").first.click()
        await page.get_by_role("option", name="Jigsaw puzzle").click()

    out["task"], out["server_task"] = await step(page, proto, pick_jigsaw, "permutation ", timeout)

    async def new_seed():
        box = page.get_by_label("Seed")
        await box.fill(str(seed))
        await box.press("Enter")

    out["knob"], out["server_knob"] = await step(page, proto, new_seed, f"seed {seed}", timeout)
    out["train"], _ = await step(
        page, proto, lambda: nav.get_by_role("link", name=re.compile("Train")).click(), "New comparison", timeout
    )
    await page.get_by_text("Add the supervised reference").click()  # one task only
    slider = page.get_by_role("slider").first
    await slider.focus()
    await page.keyboard.press("Home")  # the smallest budget the form allows
    for _ in range(args.budget - 2):
        await page.keyboard.press("ArrowRight")
    seed_box = page.get_by_label("Seed", exact=True)
    await seed_box.fill(str(seed))
    await seed_box.press("Tab")  # Enter would submit the form
    await page.get_by_text("Advanced").click()
    size = page.get_by_label("Dataset size (shapes)")
    await size.fill("100")  # the smallest dataset the form allows
    await size.press("Tab")
    start = time.perf_counter()
    out["started"] = True  # from here on, a run may be in the store whatever the page shows
    await page.get_by_role("button", name="Start").click()
    await page.get_by_text("Queued 2 runs").wait_for()
    store = RunStore(data)
    mine = [r for r in store.list(limit=1000) if r.task == "rotation" and r.config["seed"] == seed]
    if len(mine) != 1:
        raise AssertionError(f"session {i}: {len(mine)} rotation runs with seed {seed} in the store")
    out["run_id"] = mine[0].id
    await page.get_by_text(mine[0].id).first.wait_for()
    out["submit"] = time.perf_counter() - start


# -- the machine side --------------------------------------------------------------------------------------
class Sampler(threading.Thread):
    """Samples the 1-minute load average and per-process CPU time (from /proc) every half second."""

    def __init__(self, server_pid: int, nice_worker: bool = False):
        super().__init__(daemon=True)
        self.nice_worker = nice_worker
        self.server_pid, self.me = server_pid, os.getpid()
        self.stop_event = threading.Event()
        self.loads: list[float] = []
        self.server_rss_mb = 0.0
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.kind: dict[int, str] = {}
        self.busy0 = busy_ticks()

    def _classify(self, pid: int, comm: str, ppid: int) -> str:
        if pid == self.server_pid:
            return "server"
        if pid == self.me:
            return "driver"
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            cmd = []
        if b"sslcore" in cmd and b"worker" in cmd:
            return "worker"
        if "chrom" in comm or (cmd and b"chromium" in cmd[0]):
            return "chromium"
        if ppid == self.me or (cmd and b"playwright" in b" ".join(cmd)):
            return "driver"
        return "other"

    def scan(self, initial: bool = False) -> None:
        for pid, comm, ppid, ticks in processes():
            if pid not in self.kind:
                self.kind[pid] = self._classify(pid, comm, ppid)
                self.first[pid] = ticks if initial else 0
                if self.nice_worker and self.kind[pid] == "worker":  # the what-if: training at low priority
                    try:
                        os.setpriority(os.PRIO_PROCESS, pid, 19)
                    except OSError:
                        pass
            self.last[pid] = ticks
        self.loads.append(os.getloadavg()[0])
        try:
            rss = next(line for line in Path(f"/proc/{self.server_pid}/status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
            self.server_rss_mb = max(self.server_rss_mb, int(rss.split()[1]) / 1024)
        except (OSError, StopIteration):
            pass

    def run(self) -> None:
        self.scan(initial=True)
        while not self.stop_event.wait(0.5):
            self.scan()

    def stop(self) -> dict:
        self.stop_event.set()
        self.join()
        self.scan()
        return self.totals()

    def totals(self) -> dict:
        """CPU seconds per kind of process since the start (a scan may lag by half a second)."""
        cpu: dict[str, float] = defaultdict(float)
        for pid, kind in self.kind.items():
            cpu[kind] += (self.last[pid] - self.first[pid]) / TICK
        ours = sum(v for k, v in cpu.items() if k != "other")
        cpu["other"] = max(0.0, (busy_ticks() - self.busy0) / TICK - ours)  # includes processes that came and went
        return dict(cpu)


async def cost_probe(pw, repeats: int) -> dict:
    """CPU time one preview update costs, by process (not wall time, so a busy machine matters less): one
    session on its own server uploads two PNGs, picks Jigsaw, then changes the seed ``repeats`` times."""
    data = tempfile.mkdtemp(prefix="pretext-load-cost-")
    server = StreamlitServer(data, env={"PRETEXT_LAB_WORKER_IDLE_S": "30"})
    await asyncio.to_thread(server.start)
    browser = await launch_browser(pw)
    try:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        await context.add_init_script(CHANGES)
        page = await context.new_page()
        page.set_default_timeout(120_000)
        proto = ScriptRuns(page)
        await step(page, proto, lambda: page.goto(f"{server.url}/explore?source=upload&task=jigsaw"),
                   "Upload a few images", 120, navigation=True)
        files = [{"name": f"c{k}.png", "mimeType": "image/png", "buffer": png((40 * k, 90, 200), mark=k)}
                 for k in range(2)]
        await step(page, proto, lambda: page.locator("input[type='file']").set_input_files(files), "from 2 images", 120)
        box = page.get_by_label("Seed")
        sampler = Sampler(server.proc.pid)
        sampler.start()
        walls, servers = [], []
        for k in range(repeats):
            async def change(k=k):
                await box.fill(str(5000 + k))
                await box.press("Enter")

            wall, srv = await step(page, proto, change, f"seed {5000 + k}", 120)
            walls.append(wall)
            if srv is not None:
                servers.append(srv)
        cpu = sampler.stop()
        await context.close()
    finally:
        await browser.close()
        server.stop()
        stop_workers(data)
        shutil.rmtree(data, ignore_errors=True)
    return {"repeats": repeats, "wall": statistics.median(walls), "server_wall": statistics.median(servers),
            "cpu": {k: v / repeats for k, v in cpu.items()}}


async def idle_probe(browser, url: str, n: int, seconds: float, server_pid: int) -> dict:
    """What an open but idle page costs: n pages left on Train (its queue polls every 2 s), then n on
    Explore (static), each for ``seconds``: CPU per second by process kind and websocket bytes per page."""
    out: dict = {"pages": n}
    for name, path, needle in (("train", "/train", "Queue"), ("explore", "/explore", "training examples")):
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        await context.add_init_script(CHANGES)
        received = [0]

        def count(ws, received=received):
            ws.on("framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload)))

        pages = []
        for _ in range(n):
            page = await context.new_page()
            page.set_default_timeout(180_000)
            page.on("websocket", count)
            await page.goto(url + path)
            await page.wait_for_function(SETTLED, arg=settled_args(None, None, needle), polling=POLL_MS, timeout=180_000)
            pages.append(page)
        received[0] = 0
        sampler = Sampler(server_pid)
        sampler.start()
        await asyncio.sleep(seconds)
        cpu = sampler.stop()
        out[name] = {"cpu": {k: v / seconds for k, v in cpu.items()}, "kb_per_page_s": received[0] / 1e3 / n / seconds}
        await context.close()
    return out


def wait_for_runs(data: str, expected: int, timeout: float) -> float:
    from sslcore.runs import FINISHED, RunStore

    store, start = RunStore(data), time.monotonic()
    seen, since = -1, start
    while time.monotonic() - start < timeout:
        runs = store.list(limit=10_000)
        if len(runs) != seen:
            seen, since = len(runs), time.monotonic()
        # all there and finished; or finished and nothing new for 15 s (a Start the server never got)
        if all(r.status in FINISHED for r in runs) and (len(runs) >= expected or time.monotonic() - since > 15):
            break
        time.sleep(1)
    return time.monotonic() - start


def verify_runs(data: str, results: list[dict]) -> dict:
    """Every submitted run appears once, finished successfully, and was started exactly once."""
    from sslcore.runs import RunStore

    store = RunStore(data)
    runs = store.list(limit=10_000)
    problems = []
    submitted = [r["run_id"] for r in results if "run_id" in r]
    rotation = [r for r in runs if r.task == "rotation"]
    ids = Counter(r.id for r in runs)
    pressed = [r for r in results if r.get("started")]
    if len(rotation) != len(pressed):
        problems.append(f"{len(rotation)} rotation runs for {len(pressed)} sessions that pressed Start")
    seeds = Counter(r.config["seed"] for r in rotation)
    problems += [f"seed {s} submitted {n}×" for s, n in seeds.items() if n > 1]
    problems += [f"run {i} listed {n}×" for i, n in ids.items() if n > 1]
    problems += [f"run {i} not in the store" for i in submitted if i not in ids]
    groups = Counter(r.group_id for r in runs)
    problems += [f"group {g} has {n} runs (expected rotation + random init)" for g, n in groups.items() if n != 2]
    for r in runs:
        if r.status != "succeeded":
            problems.append(f"run {r.id} ({r.task}) {r.status}: {r.error}")
        starts = sum(e["kind"] == "start" for e in store.events_since(r.id))
        if starts != 1:
            problems.append(f"run {r.id} ({r.task}) started {starts}×")
    return {"runs": len(runs), "succeeded": sum(r.status == "succeeded" for r in runs), "problems": problems,
            "pressed": len(pressed)}


async def run_level(pw, n: int, args) -> dict:
    args.n = n
    data = tempfile.mkdtemp(prefix=f"pretext-load-{n}-")
    env = {"PRETEXT_LAB_WORKER_IDLE_S": "300"}
    if args.server_threads:  # the what-if: torch intra-op threads in the server (and the worker it starts)
        env.update(OMP_NUM_THREADS=str(args.server_threads), MKL_NUM_THREADS=str(args.server_threads))
    server = StreamlitServer(data, env=env, log=Path(data) / "server.log")
    load_before = os.getloadavg()
    await asyncio.to_thread(server.start)
    if args.pin:  # every thread of the server; the worker it starts later inherits its CPUs
        for tid in os.listdir(f"/proc/{server.proc.pid}/task"):
            os.sched_setaffinity(int(tid), args.pin[0])
    browser = await launch_browser(pw)
    try:
        warm = await browser.new_context()  # untimed: the one-off torch import, the worker start
        await warm.add_init_script(CHANGES)
        page = await warm.new_page()
        for path, needle in (("", "The tasks"), ("/explore", "training examples")):
            await page.goto(server.url + path)
            await page.wait_for_function(SETTLED, arg=settled_args(None, None, needle), polling=POLL_MS, timeout=180_000)
        await warm.close()
        sampler = Sampler(server.proc.pid, nice_worker=args.nice_worker)
        sampler.start()
        done, finished = asyncio.Event(), []
        started = time.perf_counter()
        results = await asyncio.gather(*(session(i, browser, server.url, data, args, done, finished) for i in range(n)))
        sessions_s = time.perf_counter() - started
        loads_sessions, cpu_sessions = list(sampler.loads), sampler.totals()
        pressed = sum(bool(r.get("started")) for r in results)
        runs_wait = await asyncio.to_thread(wait_for_runs, data, 2 * pressed, args.timeout)
        cpu = sampler.stop()
        check = verify_runs(data, results)
        idle = None
        if args.idle_probe:
            try:
                idle = await idle_probe(browser, server.url, min(n, 5), args.idle_probe, server.proc.pid)
            except Exception as err:  # a probe that cannot even open its pages is a finding, not a crash
                idle = {"error": f"{type(err).__name__}: {str(err).splitlines()[0]}"}
    finally:
        await browser.close()
        server.stop()
        stop_workers(data)
        log = Path(data) / "server.log"
        log_tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(data, ignore_errors=True)
    return {
        "n": n, "results": results, "sessions_s": sessions_s, "runs_wait_s": runs_wait, "cpu": cpu,
        "cpu_sessions": cpu_sessions, "idle": idle, "rss_mb": sampler.server_rss_mb,
        "load_before": load_before[0], "load_mean": statistics.fmean(loads_sessions or [0]),
        "load_max": max(loads_sessions or [0]), "check": check, "log_tail": log_tail,
    }


# -- the report --------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p95 of 5 values is the largest; of 20, the 19th)."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, -(-len(s) * q // 100) - 1))] if s else float("nan")


def samples(level: dict, key: str) -> list[float]:
    rows = level["results"]  # a session that failed later still timed the steps before
    if key == "preview":
        return [r[k] for r in rows for k in ("task", "knob") if k in r]
    if key == "server_preview":
        return [r[k] for r in rows for k in ("server_task", "server_knob") if r.get(k) is not None]
    return [r[key] for r in rows if key in r]


KINDS = ("server", "worker", "chromium", "driver", "other")


def report(levels: list[dict]) -> str:
    base = levels[0]
    lines = ["| step | " + " | ".join(f"{lv['n']} session{'s' * (lv['n'] > 1)} p50 / p95 (s)" for lv in levels)
             + f" | p50 vs {base['n']} session |", "|---|" + "---:|" * (len(levels) + 1)]
    for key, name in STEPS.items():
        cells, ratio = [], "—"
        for lv in levels:
            v = samples(lv, key)
            cells.append(f"{statistics.median(v):.2f} / {pct(v, 95):.2f}" if v else "—")
        b, last = samples(base, key), samples(levels[-1], key)
        if b and last and len(levels) > 1:
            ratio = f"{statistics.median(last) / statistics.median(b):.1f}×"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")
    lines += ["", "| sessions | ok | wall (s): sessions + runs | runs succeeded / 2 × Start pressed | exactly once "
              "| load avg before → during (mean / max) | CPU s during the sessions: server / worker / Chromium / "
              "driver / others | same, whole level | server RSS max (MB) |", "|---:|---:|---:|---|---|---|---|---|---:|"]
    for lv in levels:
        ok = sum("error" not in r for r in lv["results"])
        c, cs, chk = lv["cpu"], lv["cpu_sessions"], lv["check"]
        once = "yes" if not chk["problems"] else f"NO ({len(chk['problems'])} problems)"
        lines.append(
            f"| {lv['n']} | {ok} | {lv['sessions_s']:.0f} + {lv['runs_wait_s']:.0f} | {chk['succeeded']} / {2 * chk['pressed']} "
            f"| {once} | {lv['load_before']:.2f} → {lv['load_mean']:.2f} / {lv['load_max']:.2f} | "
            + " / ".join(f"{cs.get(k, 0):.0f}" for k in KINDS) + " | "
            + " / ".join(f"{c.get(k, 0):.0f}" for k in KINDS) + f" | {lv['rss_mb']:.0f} |"
        )
    if any(lv["idle"] for lv in levels):
        lines += ["", "Idle open pages (after the runs finished; the store holds 2 runs per session): CPU cores used "
                  "(server / Chromium) and websocket traffic per page.", "",
                  "| pages open | runs in the store | on Train: server / Chromium cores, kB/s per page "
                  "| on Explore: server / Chromium cores, kB/s per page |", "|---:|---:|---|---|"]
        for lv in levels:
            if lv["idle"] and "error" in lv["idle"]:
                lines.append(f"| — | {lv['check']['runs']} | {lv['idle']['error']} | |")
            elif lv["idle"]:
                t, e = lv["idle"]["train"], lv["idle"]["explore"]
                lines.append(
                    f"| {lv['idle']['pages']} | {lv['check']['runs']} | {t['cpu'].get('server', 0):.2f} / {t['cpu'].get('chromium', 0):.2f}, "
                    f"{t['kb_per_page_s']:.0f} | {e['cpu'].get('server', 0):.2f} / {e['cpu'].get('chromium', 0):.2f}, "
                    f"{e['kb_per_page_s']:.1f} |"
                )
    return "\n".join(lines)


async def amain(args) -> int:
    from playwright.async_api import async_playwright

    levels, cost = [], None
    if args.pin:  # this script, the Playwright driver and Chromium (started from here) on the browsers' CPUs
        os.sched_setaffinity(0, args.pin[1])
    async with async_playwright() as pw:
        if args.cost_probe:
            cost = await cost_probe(pw, args.cost_probe)
        for n in args.sessions:
            level = await run_level(pw, n, args)
            levels.append(level)
            print(report(levels), file=sys.stderr)  # so far, in case a later level cannot finish
            errors = [r["error"] for r in level["results"] if "error" in r]
            print(f"[{n} sessions] {len(errors)} failed sessions; {level['check']['problems'][:5]}", file=sys.stderr)
            for e in errors[:5]:
                print(f"   {e}", file=sys.stderr)
            if errors or level["check"]["problems"]:
                print(level["log_tail"], file=sys.stderr)
    print(f"Machine: {machine()}; {os.cpu_count()} cores shared with everything else running")
    print(f"Train budget {args.budget} s per run, rotation only (+ its random-init baseline), 100 shapes; "
          f"sessions started {'together' if not args.ramp else f'over {args.ramp} s'}"
          + ("; worker reniced to 19" if args.nice_worker else "")
          + (f"; OMP_NUM_THREADS={args.server_threads} for server and worker" if args.server_threads else "")
          + (f"; server + worker pinned to CPU {sorted(args.pin[0])}, browsers to CPU {sorted(args.pin[1])}"
             if args.pin else "") + ".\n")
    print(report(levels))
    if cost:
        c = cost["cpu"]
        print(f"\nCost of one preview update (Jigsaw on 2 uploaded images, new seed; one session alone, "
              f"{cost['repeats']} updates): CPU {1000 * c.get('server', 0):.0f} ms in the server, "
              f"{1000 * c.get('chromium', 0):.0f} ms in Chromium, {1000 * c.get('driver', 0):.0f} ms in the "
              f"driver; wall {cost['wall']:.2f} s, of which server {cost['server_wall']:.2f} s (medians).")
    last = levels[-1]
    p95 = pct(samples(last, "preview"), 95)
    print(f"\nTarget: p95 preview update ≤ {PREVIEW_TARGET_S:.0f} s at {last['n']} sessions: {p95:.2f} s "
          f"({'met' if p95 <= PREVIEW_TARGET_S else 'MISSED'}).")
    bad = any(lv["check"]["problems"] or any("error" in r for r in lv["results"]) for lv in levels)
    for lv in levels:
        for problem in lv["check"]["problems"][:10]:
            print(f"- {lv['n']} sessions: {problem}")
    return 1 if bad else 0


def cpu_sets(text: str) -> tuple[set[int], set[int]]:
    """'0:1' or '0,1:2,3' -> ({0}, {1}): the server's CPUs and the browsers'."""
    try:
        server, browsers = ({int(c) for c in part.split(",")} for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError("use SERVER_CPUS:BROWSER_CPUS, e.g. 0:1") from None
    return server, browsers


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 20], help="concurrency levels (max 40)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per level, sessions and runs each")
    parser.add_argument("--ramp", type=float, default=0, help="spread the session starts over this many seconds")
    parser.add_argument("--budget", type=int, default=2, help="training seconds per run (the form's minimum is 2)")
    parser.add_argument("--idle-probe", type=float, default=0, metavar="S",
                        help="after each level, S seconds with min(N, 5) idle pages on Train, then on Explore (0: skip)")
    parser.add_argument("--cost-probe", type=int, default=0, metavar="K",
                        help="first, CPU cost of one preview update, from K seed changes in one session (0: skip)")
    parser.add_argument("--nice-worker", action="store_true", help="what-if: renice the training worker to 19")
    parser.add_argument("--server-threads", type=int, default=0,
                        help="what-if: OMP_NUM_THREADS for the server and the worker it starts (0: torch's default)")
    parser.add_argument("--pin", type=cpu_sets, metavar="SERVER_CPUS:BROWSER_CPUS",
                        help="e.g. 0:1 - server and worker on CPU 0, this script and Chromium on CPU 1 (taskset)")
    args = parser.parse_args(argv)
    if any(not 1 <= n <= 40 for n in args.sessions):
        parser.error("--sessions: between 1 and 40 each")
    if not Path("/usr/bin/chromium").exists():
        parser.error("needs Debian's chromium (/usr/bin/chromium)")
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
