"""Executors turn a claimed run into a finished one. Only the local one exists; a cluster engine would
implement the same two-method interface and leave the store, the worker loop and the UI untouched."""

from __future__ import annotations

import errno
import logging
import shutil
import time
import traceback
from typing import Protocol

import torch

from sslcore.errors import PretextLabError
from sslcore.experiment import run_experiment
from sslcore.paths import storage_error
from sslcore.runs.store import Run, RunStore, StoreUnavailable
from sslcore.train import TrainConfig

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.25  # at most ~4 progress writes a second per run
PROGRESS_PAUSE_S = 10.0  # after a failed progress write, training goes on without writing for this long
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
FINISH_ATTEMPTS = 5  # recording a run's outcome is retried (each attempt waits out a lock) before giving up


class Executor(Protocol):
    def execute(self, run: Run, store: RunStore) -> None:
        """Run it to the end and record the outcome in the store (succeeded, failed or cancelled)."""


class LocalExecutor:
    """Runs in this process, on this machine's device; exceptions become a failed run with a message."""

    def __init__(self, device: str = "auto"):
        self.device = device

    def execute(self, run: Run, store: RunStore) -> None:
        writer = ProgressWriter(store, run.id)
        try:
            config = TrainConfig.from_dict(run.config)
            if self.device != "auto":
                config.device = self.device
            results = run_experiment(
                config,
                store.run_dir(run.id),
                should_stop=lambda: store.cancel_requested(run.id),
                on_event=writer,
                data_dir=store.root,
            )
        except PretextLabError as err:
            self._failed(store, run, str(err))
            return
        except torch.OutOfMemoryError:
            self._failed(store, run, "out of memory: lower the batch size or the image size")
            return
        except Exception as err:  # a bug must fail one run, not the worker
            log.error("run %s crashed:\n%s", run.id, traceback.format_exc())
            if isinstance(err, OSError) and err.errno in WRITE_ERRNOS:  # e.g. the baseline cache on a full disk
                self._failed(store, run, str(storage_error(err, err.filename or store.root)))
            else:
                self._failed(store, run, f"internal error: {type(err).__name__}: {err}")
            return
        writer.flush()
        status = "cancelled" if results["status"] == "cancelled" else "succeeded"
        record(store, run.id, status, results=results)

    @staticmethod
    def _failed(store: RunStore, run: Run, message: str) -> None:
        """Record the failure, and remove whatever part of the run folder was written: without
        results.json it is no result, and on a full disk the space is needed back."""
        record(store, run.id, "failed", error=message)
        shutil.rmtree(store.run_dir(run.id), ignore_errors=True)


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


class ProgressWriter:
    """Stores every non-step event, and step events at most every PROGRESS_INTERVAL_S (plus the last).

    Progress is for watching, not for the result: when the store cannot take a write (locked for long,
    disk full), training goes on, events are skipped for PROGRESS_PAUSE_S, and the next one is tried.
    """

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id
        self.last_write, self.pending = 0.0, None
        self.paused_until = 0.0

    def __call__(self, event: dict) -> None:
        if event["kind"] != "step":
            self.flush()
            self._write(event, progress=event["kind"] in ("start", "evaluating"))
            return
        self.pending = event
        if time.monotonic() - self.last_write >= PROGRESS_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self.pending is not None:
            if self._write(self.pending, progress=True):
                self.pending = None
            self.last_write = time.monotonic()

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
