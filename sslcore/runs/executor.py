"""Executors turn a claimed run into a finished one. Only the local one exists; a cluster engine would
implement the same two-method interface and leave the store, the worker loop and the UI untouched."""

from __future__ import annotations

import logging
import time
import traceback
from typing import Protocol

import torch

from sslcore.errors import PretextLabError
from sslcore.experiment import run_experiment
from sslcore.runs.store import Run, RunStore
from sslcore.train import TrainConfig

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.25  # at most ~4 progress writes a second per run


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
            store.finish(run.id, "failed", error=str(err))
            return
        except torch.OutOfMemoryError:
            store.finish(run.id, "failed", error="out of memory: lower the batch size or the image size")
            return
        except Exception as err:  # a bug must fail one run, not the worker
            log.error("run %s crashed:\n%s", run.id, traceback.format_exc())
            store.finish(run.id, "failed", error=f"internal error: {type(err).__name__}: {err}")
            return
        writer.flush()
        if results["status"] == "cancelled":
            store.finish(run.id, "cancelled", results=results)
        else:
            store.finish(run.id, "succeeded", results=results)


class ProgressWriter:
    """Stores every non-step event, and step events at most every PROGRESS_INTERVAL_S (plus the last)."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id
        self.last_write, self.pending = 0.0, None

    def __call__(self, event: dict) -> None:
        if event["kind"] != "step":
            self.flush()
            self.store.add_event(self.run_id, event, progress=event["kind"] in ("start", "evaluating"))
            return
        self.pending = event
        if time.monotonic() - self.last_write >= PROGRESS_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self.pending is not None:
            self.store.add_event(self.run_id, self.pending, progress=True)
            self.pending, self.last_write = None, time.monotonic()
