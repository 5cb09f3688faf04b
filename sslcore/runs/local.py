"""The local executor: runs train in a thread of the dispatcher's process, on this machine's device.

``execute`` is the one way a run is carried out, here and on a Ray node alike: train, evaluate, write
the run folder; every exception becomes a failed outcome with a message a person can act on.
"""

from __future__ import annotations

import logging
import queue
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

import torch

from sslcore.device import device_name, resolve_device
from sslcore.errors import PretextLabError
from sslcore.experiment import run_experiment
from sslcore.paths import storage_error
from sslcore.runs.executor import WRITE_ERRNOS, Outcome
from sslcore.runs.store import Run
from sslcore.train import TrainConfig

log = logging.getLogger(__name__)


def execute(
    config: dict,
    run_dir: Path,
    data_dir: Path,
    should_stop: Callable[[], bool],
    on_event: Callable[[dict], None],
    device: str = "auto",
) -> Outcome:
    """Carry out one run; its files go to ``run_dir``. Never raises for the run's own failures."""
    try:
        train_config = TrainConfig.from_dict(config)
        if device != "auto":
            train_config.device = device
        results = run_experiment(train_config, run_dir, should_stop=should_stop, on_event=on_event, data_dir=data_dir)
    except PretextLabError as err:
        return Outcome("failed", error=str(err))
    except torch.OutOfMemoryError:
        return Outcome("failed", error="out of memory: lower the batch size or the image size")
    except Exception as err:  # a bug must fail one run, not the worker
        log.error("run crashed:\n%s", traceback.format_exc())
        if isinstance(err, OSError) and err.errno in WRITE_ERRNOS:  # e.g. the baseline cache on a full disk
            return Outcome("failed", error=str(storage_error(err, err.filename or data_dir)))
        return Outcome("failed", error=f"internal error: {type(err).__name__}: {err}")
    return Outcome("cancelled" if results["status"] == "cancelled" else "succeeded", results=results)


class LocalExecutor:
    """One run at a time in a background thread (one run per device; more runs: more worker processes)."""

    name = "local"

    def __init__(self, device: str = "auto"):
        self.device = device
        self.flights: dict[str, tuple[threading.Thread, threading.Event, queue.SimpleQueue]] = {}

    def describe(self) -> str:
        return f"this machine ({device_name(resolve_device(self.device))})"

    def free_slots(self) -> int:
        return 1 - len(self.flights)

    def submit(self, run: Run, run_dir: Path, data_dir: Path) -> None:
        stop, inbox = threading.Event(), queue.SimpleQueue()

        def work() -> None:
            inbox.put(execute(run.config, run_dir, data_dir, stop.is_set, inbox.put, self.device))

        thread = threading.Thread(target=work, name=f"run-{run.id}", daemon=True)
        self.flights[run.id] = (thread, stop, inbox)
        thread.start()

    def poll(self, run_id: str) -> tuple[list[dict], Outcome | None]:
        _, _, inbox = self.flights[run_id]
        events: list[dict] = []
        while True:
            try:
                item = inbox.get_nowait()
            except queue.Empty:
                return events, None
            if isinstance(item, Outcome):
                del self.flights[run_id]
                return events, item
            events.append(item)

    def cancel(self, run_id: str) -> None:
        if run_id in self.flights:
            self.flights[run_id][1].set()  # the training loop checks it every step

    def close(self) -> None:
        for _, stop, _ in self.flights.values():
            stop.set()
