"""The worker process: ``python -m sslcore worker``. Claims queued runs, heartbeats, executes them.

Training never runs inside the Streamlit server: a compute-bound thread would starve it, and st.* calls
from other threads are unsupported. ``ensure_worker()`` starts a detached worker when none is alive,
judged by heartbeats in the store (not by guessing from process names).
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from sslcore.paths import storage_error
from sslcore.runs.executor import Executor, LocalExecutor
from sslcore.runs.store import RunStore, StoreUnavailable

log = logging.getLogger(__name__)
HEARTBEAT_S = 2.0
POLL_S = 0.5
STORE_RETRY_S = 2.0  # while the store is unavailable (locked, disk full), the worker waits and tries again
# A worker started by the app leaves after 15 idle minutes (tests shorten this through the environment).
AUTO_IDLE_EXIT_S = float(os.environ.get("PRETEXT_LAB_WORKER_IDLE_S", 900))


class Worker:
    def __init__(self, store: RunStore, executor: Executor | None = None, worker_id: str | None = None):
        self.store = store
        self.executor = executor or LocalExecutor()
        self.id = worker_id or f"w-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.current: str | None = None
        self.stopping = threading.Event()

    def _heartbeat(self) -> None:
        while not self.stopping.wait(HEARTBEAT_S):
            try:
                self.store.beat(self.id, [self.current] if self.current else [])
            except StoreUnavailable as err:  # a locked or briefly unavailable store: try again next beat
                log.warning("heartbeat not recorded: %s", err)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)

    def run(self, idle_exit: float | None = None, max_runs: int | None = None) -> int:
        """Serve the queue until stopped, idle for ``idle_exit`` seconds, or ``max_runs`` are done."""
        self.store.register_worker(self.id, os.getpid(), getattr(self.executor, "device", "auto"))
        beat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        beat.start()
        done, idle_since = 0, time.monotonic()
        try:
            while not self.stopping.is_set():
                try:
                    self.store.reap_stale()
                    run = self.store.claim(self.id)
                except StoreUnavailable as err:  # waited out the lock already; keep serving once it is back
                    if not self.store.root.is_dir():  # the data folder was removed: nothing will ever come
                        log.error("the data folder %s is gone: worker %s stops", self.store.root, self.id)
                        break
                    if idle_exit is not None and time.monotonic() - idle_since > idle_exit:
                        break  # an unusable store is idle time too: the worker must not linger for ever
                    log.warning("run store unavailable, trying again: %s", err)
                    self.stopping.wait(STORE_RETRY_S)
                    continue
                if run is None:
                    if idle_exit is not None and time.monotonic() - idle_since > idle_exit:
                        break
                    self.stopping.wait(POLL_S)
                    continue
                self.current = run.id
                log.info("worker %s runs %s (%s)", self.id, run.id, run.task)
                try:
                    self.executor.execute(run, self.store)
                except StoreUnavailable as err:  # its outcome could not be recorded, even after retries
                    log.error("run %s: outcome not recorded, the store stayed unavailable: %s", run.id, err)
                finally:
                    self.current = None
                done += 1
                idle_since = time.monotonic()
                if max_runs is not None and done >= max_runs:
                    break
        finally:
            self.stopping.set()
            try:
                self.store.worker_stopped(self.id)
            except StoreUnavailable:  # its heartbeat stops now, so it counts as gone anyway
                log.warning("could not record that worker %s stopped", self.id)
        return done


def serve(
    data_dir=None, device: str = "auto", concurrency: int = 1, idle_exit: float | None = None, worker_id=None
) -> int:
    """Entry point of ``python -m sslcore worker``: one worker, or ``concurrency`` worker processes."""
    from sslcore.train import resolve_device

    resolve_device(device)  # a mistyped or missing device is refused here, not by failing every queued run
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s")
    store = RunStore(data_dir)
    if concurrency > 1:
        children = [spawn_worker(store.root, device, idle_exit) for _ in range(concurrency)]
        return max(child.wait() for child in children)
    worker = Worker(store, LocalExecutor(device), worker_id)
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
        store.register_worker(worker_id, child.pid, device)  # counts as alive until it beats itself
        return {"started": True, "workers": 1, "pid": child.pid, "worker_id": worker_id}
