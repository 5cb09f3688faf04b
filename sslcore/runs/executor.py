"""The executor interface: how the dispatcher hands claimed runs to an engine and hears back from it.

An executor has many runs in flight. The dispatcher (``sslcore.runs.worker``) submits a claimed run,
polls it for the events it produced since the last poll and, once it has ended, for its ``Outcome``;
it asks for a cancel when the store says so. Only the dispatcher writes the store and the run folders,
whatever the engine: the local one (threads in the dispatcher's process) or Ray (tasks on a cluster,
whose files come back through Ray). This module imports no torch, so the dispatcher starts fast, and none
of the executors: they import it, and the dispatcher picks one (``sslcore.runs.worker.make_executor``).
"""

from __future__ import annotations

import errno
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sslcore.errors import StoreUnavailable
from sslcore.runs.store import Run, RunStore

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.25  # at most ~4 progress writes a second per run
PROGRESS_PAUSE_S = 10.0  # after a failed progress write, training goes on without writing for this long
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
FINISH_ATTEMPTS = 5  # recording a run's outcome is retried (each attempt waits out a lock) before giving up


@dataclass
class Outcome:
    """How a run ended. ``files`` are run-folder files (name -> bytes) made elsewhere, for the dispatcher
    to write; None when the executor wrote the folder itself (the local one, on this machine)."""

    status: str  # succeeded | failed | cancelled
    results: dict | None = None
    error: str | None = None
    files: dict[str, bytes] | None = None


class Executor(Protocol):
    name: str  # "local" or "ray"

    def describe(self) -> str:
        """Where runs go, for people: "this machine (CPU)", "Ray cluster, 2 nodes, 4 GPUs"."""

    def free_slots(self) -> int:
        """How many more runs it can start now (the dispatcher claims no more than that)."""

    def submit(self, run: Run, run_dir: Path, data_dir: Path) -> None:
        """Start a claimed run. Returns at once."""

    def poll(self, run_id: str) -> tuple[list[dict], Outcome | None]:
        """The run's events since the last poll, and its outcome once it has ended (then it is forgotten)."""

    def cancel(self, run_id: str) -> None:
        """Ask the run to stop; it ends as cancelled within a few seconds. Asking again is harmless: the
        dispatcher asks at every pump until the run has ended."""

    def close(self) -> None:
        """Release the engine (after the in-flight runs ended)."""


def record(store: RunStore, run_id: str, status: str, **outcome) -> None:
    """``store.finish``, retried while the store is unavailable (a long lock): an outcome, a finished
    result above all, is not dropped because the store was busy for a minute."""
    for attempt in range(1, FINISH_ATTEMPTS + 1):
        try:
            store.finish(run_id, status, **outcome)
            return
        except StoreUnavailable as err:
            if attempt == FINISH_ATTEMPTS:
                raise
            log.warning("could not record run %s as %s (attempt %d): %s", run_id, status, attempt, err)
            time.sleep(min(30.0, 0.5 * 2**attempt))


class Throttle:
    """Passes every non-step event on at once, and step events at most every PROGRESS_INTERVAL_S (plus the
    last one, on ``flush``). ``emit(event, progress)`` returns False when it could not take the event."""

    def __init__(self, emit):
        self.emit = emit
        self.last_write, self.pending = 0.0, None

    def __call__(self, event: dict) -> None:
        if event["kind"] != "step":
            self.flush()
            self.emit(event, event["kind"] in ("start", "evaluating"))
            return
        self.pending = event
        if time.monotonic() - self.last_write >= PROGRESS_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self.pending is not None:
            if self.emit(self.pending, True) is not False:
                self.pending = None
            self.last_write = time.monotonic()


class ProgressWriter(Throttle):
    """Writes a run's events to the store, throttled.

    Progress is for watching, not for the result: when the store cannot take a write (locked for long,
    disk full), training goes on, events are skipped for PROGRESS_PAUSE_S, and the next one is tried.
    """

    def __init__(self, store: RunStore, run_id: str):
        super().__init__(self._write)
        self.store, self.run_id = store, run_id
        self.paused_until = 0.0

    def _write(self, event: dict, progress: bool) -> bool:
        if time.monotonic() < self.paused_until:
            return False
        try:
            self.store.add_event(self.run_id, event, progress=progress)
            return True
        except StoreUnavailable as err:
            log.warning("progress of run %s not recorded (training goes on): %s", self.run_id, err)
            self.paused_until = time.monotonic() + PROGRESS_PAUSE_S
            return False
