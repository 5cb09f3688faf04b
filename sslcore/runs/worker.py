"""The worker process: ``python -m sslcore worker``. Its dispatcher claims queued runs, heartbeats, and has
an executor carry them out (``--executor local``, the default, or ``ray`` for a cluster).

Training never runs inside the Streamlit server: a compute-bound thread would starve it, and st.* calls
from other threads are unsupported. ``ensure_worker()`` starts a detached worker when none is alive,
judged by heartbeats in the store (not by guessing from process names).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path

from sslcore.errors import ConfigError, PretextLabError, StoreUnavailable
from sslcore.paths import storage_error
from sslcore.runs.executor import Executor, Outcome, ProgressWriter, record
from sslcore.runs.store import Run, RunStore

log = logging.getLogger(__name__)
HEARTBEAT_S = 2.0
POLL_S = 0.5  # how often an idle dispatcher looks for queued runs
PUMP_S = 0.2  # how often it collects progress from the runs in flight
DESCRIBE_S = 10.0  # how often it refreshes what its executor has (a cluster's nodes come and go)
STORE_RETRY_S = 2.0  # while the store is unavailable (locked, disk full), the worker waits and tries again
# A worker started by the app leaves after 15 idle minutes (tests shorten this through the environment).
AUTO_IDLE_EXIT_S = float(os.environ.get("PRETEXT_LAB_WORKER_IDLE_S", 900))
# Where runs go, for workers the app starts (`PRETEXT_LAB_EXECUTOR=ray PRETEXT_LAB_RAY_ADDRESS=head:6379 make run`).
EXECUTOR_ENV, RAY_ADDRESS_ENV = "PRETEXT_LAB_EXECUTOR", "PRETEXT_LAB_RAY_ADDRESS"
RAY_GPUS_ENV, RAY_CPUS_ENV = "PRETEXT_LAB_RAY_GPUS", "PRETEXT_LAB_RAY_CPUS"
EXECUTORS = ("local", "ray")


def make_executor(name: str = "local", *, device: str = "auto", **options) -> Executor:
    """The executor called ``name``; the Ray one takes ``address``, ``gpus_per_run`` and ``cpus_per_run``."""
    if name == "local":
        from sslcore.runs.local import LocalExecutor

        return LocalExecutor(device)
    if name == "ray":
        from sslcore.runs.ray_executor import RayExecutor

        return RayExecutor(device=device, **options)
    raise ConfigError(f"unknown executor {name!r}: use one of {', '.join(EXECUTORS)}")


class Worker:
    """The dispatcher: claims queued runs (in fair order) while its executor has room, writes what they
    report to the store, passes cancels on, and records how each ended. Many runs can be in flight."""

    def __init__(self, store: RunStore, executor: Executor | None = None, worker_id: str | None = None):
        self.store = store
        self.executor = executor if executor is not None else make_executor("local")
        self.id = worker_id or f"w-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.flights: dict[str, ProgressWriter] = {}  # run id -> its progress writer
        self.description = ""
        self.stopping = threading.Event()  # stop claiming; the runs in flight finish first
        self.stopped = threading.Event()
        self.ended = 0  # runs this dispatcher saw to their end

    def _heartbeat(self) -> None:
        while not self.stopped.wait(HEARTBEAT_S):
            try:
                self.store.beat(self.id, list(self.flights), self.description)
            except StoreUnavailable as err:  # a locked or briefly unavailable store: try again next beat
                log.warning("heartbeat not recorded: %s", err)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)

    def run(self, idle_exit: float | None = None, max_runs: int | None = None) -> int:
        """Serve the queue until stopped, idle for ``idle_exit`` seconds, or ``max_runs`` are done."""
        # a mistyped or missing device is refused here, before the worker registers, not by failing every queued run
        self.description = self.executor.describe()
        self.store.register_worker(self.id, os.getpid(), self.description)
        beat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        beat.start()
        claimed, self.ended = 0, 0
        idle_since = next_claim = next_describe = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                try:
                    room = (
                        self.executor.free_slots()
                        if max_runs is None
                        else min(self.executor.free_slots(), max_runs - claimed)
                    )
                    if now >= next_claim and room > 0 and not self.stopping.is_set():
                        next_claim = now + POLL_S
                        self.store.reap_stale()
                        for _ in range(room):
                            run = self.store.claim(self.id)
                            if run is None:
                                break
                            self._start(run)
                            claimed += 1
                    self._pump()
                except StoreUnavailable as err:  # waited out the lock already; keep serving once it is back
                    if not self.store.root.is_dir():  # the data folder was removed: nothing will ever come
                        log.error("the data folder %s is gone: worker %s stops", self.store.root, self.id)
                        break
                    if idle_exit is not None and time.monotonic() - idle_since > idle_exit:
                        break  # an unusable store is idle time too: the worker must not linger for ever
                    log.warning("run store unavailable, trying again: %s", err)
                    time.sleep(STORE_RETRY_S)
                    continue
                if now >= next_describe:  # a cluster gains and loses nodes: the sidebar says what it has now
                    self.description, next_describe = self.executor.describe(), now + DESCRIBE_S
                if self.flights:
                    idle_since = time.monotonic()
                    time.sleep(PUMP_S)
                    continue
                if self.stopping.is_set() or (max_runs is not None and claimed >= max_runs):
                    break
                if idle_exit is not None and time.monotonic() - idle_since > idle_exit:
                    break
                self.stopping.wait(POLL_S)
        finally:
            self.stopping.set()
            self.executor.close()
            self.stopped.set()
            try:
                self.store.worker_stopped(self.id)
            except StoreUnavailable:  # its heartbeat stops now, so it counts as gone anyway
                log.warning("could not record that worker %s stopped", self.id)
        return self.ended

    def _start(self, run: Run) -> None:
        log.info("worker %s runs %s (%s) on %s", self.id, run.id, run.task, self.description)
        self.flights[run.id] = ProgressWriter(self.store, run.id)
        try:
            self.executor.submit(run, self.store.run_dir(run.id), self.store.root)
        except Exception as err:  # e.g. the cluster refused it: that run fails, the queue goes on
            log.error("run %s could not be started:\n%s", run.id, traceback.format_exc())
            message = str(err) if isinstance(err, PretextLabError) else f"could not start: {type(err).__name__}: {err}"
            self._finish(run.id, Outcome("failed", error=message))

    def _pump(self) -> None:
        """Write what the runs in flight reported, pass cancels on, record the ones that ended."""
        if not self.flights:
            return
        try:
            wanted = self.store.cancel_requests(list(self.flights))
        except StoreUnavailable as err:  # cannot read cancels now: ask again at the next pump; training goes on
            log.warning("cancel requests not read (training goes on): %s", err)
            wanted = set()
        for run_id in wanted:
            self.executor.cancel(run_id)
        for run_id in list(self.flights):
            try:
                events, outcome = self.executor.poll(run_id)
            except Exception as err:  # a bug in an executor fails that run, not the dispatcher
                log.error("run %s could not be followed:\n%s", run_id, traceback.format_exc())
                events, outcome = [], Outcome("failed", error=f"internal error: {type(err).__name__}: {err}")
            for event in events:
                self.flights[run_id](event)
            if outcome is not None:
                self._finish(run_id, outcome)

    def _finish(self, run_id: str, outcome: Outcome) -> None:
        """Write the files that came back (results.json last), then record the outcome. A failed run's
        folder is removed: without results.json it is no result, and on a full disk the space is needed."""
        writer = self.flights.pop(run_id)
        self.ended += 1
        writer.flush()
        run_dir = self.store.run_dir(run_id)
        if outcome.status == "succeeded" and outcome.files is not None:
            from sslcore import artifacts  # only runs made elsewhere (Ray) ship their files back

            try:
                artifacts.write_run_files(run_dir, outcome.files)
            except PretextLabError as err:
                outcome = Outcome("failed", error=str(err))
        if outcome.status == "failed":
            shutil.rmtree(run_dir, ignore_errors=True)
        try:
            record(self.store, run_id, outcome.status, results=outcome.results, error=outcome.error)
        except StoreUnavailable as err:  # its outcome could not be recorded, even after retries
            log.error("run %s: outcome not recorded, the store stayed unavailable: %s", run_id, err)


def serve(
    data_dir=None,
    device: str = "auto",
    concurrency: int = 1,
    idle_exit: float | None = None,
    worker_id=None,
    executor: str = "local",
    **options,
) -> int:
    """Entry point of ``python -m sslcore worker``: one dispatcher with the executor called ``executor``
    (``options`` are the Ray executor's), or ``concurrency`` local worker processes."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s")
    store = RunStore(data_dir)
    if concurrency > 1:
        if executor != "local":
            raise ConfigError(
                "--concurrency is for the local executor: a Ray dispatcher runs as many runs as the cluster holds"
            )
        children = [spawn_worker(store.root, device, idle_exit) for _ in range(concurrency)]
        return max(child.wait() for child in children)
    engine = make_executor(executor, device=device, **options)
    worker = Worker(store, engine, worker_id)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    worker.run(idle_exit=idle_exit)
    return 0


def spawn_worker(
    data_dir: Path, device: str = "auto", idle_exit: float | None = None, worker_id: str | None = None
) -> subprocess.Popen:
    """Start a worker process detached from this one (its own session), logging to the data directory."""
    args = [sys.executable, "-m", "sslcore", "worker", "--data-dir", str(data_dir), "--device", device]
    if idle_exit is not None:
        args += ["--idle-exit", str(idle_exit)]
    if worker_id is not None:
        args += ["--worker-id", worker_id]
    try:
        log_file = open(Path(data_dir) / "worker.log", "ab")  # noqa: SIM115 - handed to the child
    except OSError as err:
        raise storage_error(err, Path(data_dir) / "worker.log") from None
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    try:
        return subprocess.Popen(
            args, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env
        )
    finally:
        log_file.close()


def ensure_worker(data_dir=None, device: str = "auto", idle_exit: float | None = AUTO_IDLE_EXIT_S) -> dict:
    """Make sure a worker is alive; start a detached one if not. Returns {"started": bool, "workers": n}.

    A lock file serialises the check-and-start, so two browser sessions cannot start two workers; a
    just-started worker counts as alive until its first heartbeat is due.
    """
    store = RunStore(data_dir)
    store.reap_stale()
    with open(store.root / "worker.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        live = store.live_workers()
        if live:
            return {"started": False, "workers": len(live)}
        worker_id = f"w-auto-{uuid.uuid4().hex[:8]}"
        child = spawn_worker(store.root, device, idle_exit, worker_id)
        store.register_worker(worker_id, child.pid, "")  # alive until it beats itself; it says where runs go
        return {"started": True, "workers": 1, "pid": child.pid, "worker_id": worker_id}
