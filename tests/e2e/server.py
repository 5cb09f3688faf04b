"""Shared helpers for the browser tests and benchmarks/load_test.py: a real `streamlit run app.py` on a free
loopback port with its own data directory, Debian's Chromium with the flags these machines need, and the
waits every page visit uses. Not a test module (pytest collects only test_*.py).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # sslcore, when imported from a benchmark script
    sys.path.insert(0, str(ROOT))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
CONNECTED = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
RUNNING = "[data-testid='stStatusWidget']"  # present while a script run is in progress


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """`streamlit run app.py` on loopback with PRETEXT_LAB_DATA_DIR=data; stop() and start() again keep
    the port and the data directory (for restart tests)."""

    def __init__(self, data: str | os.PathLike, port: int | None = None, env: dict | None = None,
                 script: str = "app.py", log: str | os.PathLike | None = None, args: tuple[str, ...] = ()):
        self.data, self.port, self.script = Path(data), port or free_port(), script
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PRETEXT_LAB_DATA_DIR": str(self.data), **(env or {})}
        self.log = Path(log) if log else None
        self.args = list(args)  # more `streamlit run` flags, e.g. ("--secrets.files", path)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> float:
        """Start and wait for /_stcore/health; returns the seconds it took."""
        started = time.monotonic()
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", self.script, "--server.port", str(self.port),
                 "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
                 "--browser.gatherUsageStats", "false", *self.args],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )
        finally:
            if self.log:
                out.close()
        deadline = started + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok":
                    return time.monotonic() - started
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> StreamlitServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        stop_workers(self.data)


def worker_pids(data: str | os.PathLike) -> list[int]:
    """Live worker processes serving this data directory (the app starts them detached)."""
    from sslcore.runs import RunStore

    if not (Path(data) / "runs.sqlite").exists():
        return []
    pids = []
    for w in RunStore(data).live_workers(timeout=60):
        pid = w.get("pid")
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, TypeError):
            continue
        if b"sslcore" in cmdline and b"worker" in cmdline and os.fsencode(str(data)) in cmdline:
            pids.append(int(pid))
    return pids


def stop_workers(data: str | os.PathLike, timeout: float = 20) -> None:
    """Stop the workers the app started for this data directory (by pid, checked against their command line)."""
    pids = worker_pids(data)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            try:  # reap it if it is our child; otherwise just wait for it to go
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                pass
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def launch_browser(pw):
    """Debian's Chromium, headless, through a sync or async Playwright instance."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)


def submit_shortest_comparison(page, queued: int, seconds: int = 2) -> None:
    """On an open Train page, with its tasks picked: drop the supervised reference, a budget of ``seconds``
    (the slider's least is 2 s), 100 shapes; Start, and wait until the page says ``queued`` runs were queued."""
    page.get_by_text("Add the supervised reference").click()
    page.get_by_role("slider").first.focus()
    page.keyboard.press("Home")
    for _ in range(seconds - 2):
        page.keyboard.press("ArrowRight")
    page.get_by_text("Advanced").click()
    size = page.get_by_label("Dataset size (shapes)")
    size.fill("100")
    size.press("Tab")  # Enter would submit the form
    page.get_by_role("button", name="Start").click()
    page.get_by_text(f"Queued {queued} runs").wait_for()


def sign_in(page, name: str, secret: str) -> None:
    """Type a name and its secret into the sidebar's You box and sign in (the first use claims the name)."""
    wait_idle(page)
    you = page.get_by_test_id("stSidebar").get_by_test_id("stExpander").filter(has_text="You")
    you.wait_for()
    if you.locator("details").get_attribute("open") is None:  # the box is folded (not: still unfolding)
        you.locator("summary").click()
    you.locator(".st-key-you-name input").fill(name)
    you.locator(".st-key-you-secret input").fill(secret)
    you.get_by_role("button", name="Sign in").click()
    wait_idle(page)


def open_page(page, url: str, timeout: float = 120_000) -> None:
    page.goto(url)
    page.wait_for_selector(CONNECTED)
    page.wait_for_selector(RUNNING, state="detached", timeout=timeout)


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the current script run is over (the status widget has gone)."""
    page.wait_for_selector(RUNNING, state="detached", timeout=timeout)


class ScriptRuns:
    """Watches a page's Streamlit websocket: when reruns were asked for (BackMsg rerun_script), when script
    runs finished successfully (ForwardMsg script_finished), and how many images each run sent.

    Streamlit's frontend flags the run as over (data-test-script-state) before it has drawn the run's last
    elements, and fast runs never show the status widget, so "the page has updated" needs the server's
    word, the images it sent on screen, and a quiet DOM: see settled().
    """

    def __init__(self, page):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._back, self._forward = BackMsg, ForwardMsg
        self.reruns: list[float] = []
        self.finished: list[float] = []  # time.perf_counter() of each successful full run's end
        self.images: list[int | None] = []  # images sent by that run (None: some message came as a cache ref)
        self._count: int | None = 0
        page.on("websocket", self._socket)

    def _socket(self, ws) -> None:
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)

    def _sent(self, payload) -> None:
        if isinstance(payload, bytes):
            try:
                if self._back.FromString(payload).WhichOneof("type") == "rerun_script":
                    self.reruns.append(time.perf_counter())
            except Exception:  # not a BackMsg
                pass

    def _received(self, payload) -> None:
        if not isinstance(payload, bytes):
            return
        try:
            msg = self._forward.FromString(payload)
        except Exception:  # not a ForwardMsg
            return
        kind = msg.WhichOneof("type")
        if kind == "new_session":  # sent at the start of every script run
            self._count = 0
        elif kind == "ref_hash":
            self._count = None
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            if msg.delta.new_element.WhichOneof("type") == "imgs" and self._count is not None:
                self._count += len(msg.delta.new_element.imgs.imgs)
        elif kind == "script_finished" and msg.script_finished == msg.FINISHED_SUCCESSFULLY:
            self.finished.append(time.perf_counter())
            self.images.append(self._count)

    def wait_sync(self, page, count: int, timeout: float = 60) -> float:
        """Sync API: wait until more than ``count`` runs have finished; returns when the next one did."""
        deadline = time.monotonic() + timeout
        while len(self.finished) <= count:
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not finish the script run")
            page.wait_for_timeout(20)  # lets Playwright deliver the websocket events
        return self.finished[count]

    async def wait_async(self, count: int, timeout: float = 60) -> float:
        import asyncio

        deadline = time.monotonic() + timeout
        while len(self.finished) <= count:
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not finish the script run")
            await asyncio.sleep(0.02)
        return self.finished[count]


# Install in every page (context.add_init_script) before settled(): the time of the last DOM change or
# image load, in the page's clock (performance.now(), 0 = navigation start).
CHANGES = """(() => {
    window.__lastChange = performance.now();
    const mark = () => { window.__lastChange = performance.now(); };
    new MutationObserver(mark).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
    document.addEventListener('load', e => { if (e.target && e.target.tagName === 'IMG') mark(); }, true);
})();"""
# The frontend is done with the run, the page shows `needle` and `images` images (when known), nothing
# from the previous run is left (stale), every image has loaded, and nothing has changed for `quiet` ms.
# Returns the time of the last change (page clock), or false.
SETTLED = """({needle, images, quiet}) => {
    const app = document.querySelector("[data-testid='stApp']");
    const main = document.querySelector("[data-testid='stMain']") || document.body;
    const ok = app && app.dataset.testScriptState === 'notRunning'
        && main.innerText.includes(needle)
        && (images === null || main.querySelectorAll("[data-testid='stImage'] img").length === images)
        && !document.querySelector("[data-stale='true']")
        && !document.querySelector("[data-testid='stStatusWidget']")
        && [...document.images].every(img => img.complete && img.naturalWidth > 0)
        && performance.now() - window.__lastChange >= quiet;
    return ok ? Math.max(window.__lastChange, 1e-3) : false;
}"""
QUIET_MS = 300


def settled_args(runs: ScriptRuns | None, index: int | None, needle: str, quiet: int = QUIET_MS) -> dict:
    images = runs.images[index] if runs is not None and index is not None and index < len(runs.images) else None
    return {"needle": needle, "images": images, "quiet": quiet}


DIAGNOSE = """() => ({
    scriptState: document.querySelector("[data-testid='stApp']")?.dataset.testScriptState,
    connection: document.querySelector("[data-testid='stApp']")?.dataset.testConnectionState,
    stale: document.querySelectorAll("[data-stale='true']").length,
    statusWidget: !!document.querySelector("[data-testid='stStatusWidget']"),
    mainImages: (document.querySelector("[data-testid='stMain']") || document).querySelectorAll("[data-testid='stImage'] img").length,
    quietFor: performance.now() - window.__lastChange,
    brokenImages: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    text: (document.querySelector("[data-testid='stMain']") || document.body).innerText.slice(0, 600),
})"""


def settle(page, needle: str, runs: ScriptRuns | None = None, index: int | None = None, timeout: float = 60) -> float:
    """Sync API: wait for SETTLED after run ``index`` (counted by ``runs``); on timeout, say what was missing.

    Returns the page-clock time (ms) of the last change."""
    try:
        handle = page.wait_for_function(SETTLED, arg=settled_args(runs, index, needle), polling=100, timeout=timeout * 1000)
        return handle.json_value()
    except Exception as err:
        raise AssertionError(f"page did not settle on {needle!r}: {page.evaluate(DIAGNOSE)}") from err


def wait_for_images(page) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('img')].every(img => img.complete && img.naturalWidth > 0)"
    )


def png(color=(200, 40, 40), size: int = 64, mark: int = 0) -> bytes:
    """A small PNG: a coloured square with a white bar whose position depends on ``mark``."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), color)
    ImageDraw.Draw(img).rectangle([4 + 3 * (mark % 12), 8, 10 + 3 * (mark % 12), size - 8], fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def shape_png() -> bytes:
    """A picture with an upright object in it (one of the built-in shapes, drawn large)."""
    from PIL import Image

    from sslcore.data.shapes import make_shapes

    buf = io.BytesIO()
    Image.fromarray(make_shapes(1, size=96, seed=3).images[0].permute(1, 2, 0).numpy()).save(buf, "PNG")
    return buf.getvalue()
