"""The Ray executor: each run is one Ray task on a cluster; progress and files come back through Ray.

The dispatcher (on the app's machine) submits a claimed run as a task with its resource request
(``num_gpus`` may be fractional, so several short runs share a GPU; ``num_cpus``), never retried by Ray.
The task is a streaming generator: it yields where it runs, then the trainer's events (throttled like
the local worker's), then the ``Outcome`` with the run folder's files as bytes. The dispatcher writes
all of it to the store and the run folder, so the cluster needs no shared filesystem and never touches
the store. The code travels to the nodes with the job (``RUNTIME_ENV``, given to ``ray.init``); the
nodes need the same Python packages (requirements.txt) and Ray version.

Cancel is cooperative first (a small actor the task asks every half second; the run ends as cancelled
with what it trained), then ``ray.cancel(force=True)`` after CANCEL_GRACE_S. A Ray worker or node lost
mid-run fails that run with a message saying so; the queue goes on.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sslcore.errors import ConfigError
from sslcore.runs.executor import Outcome, Throttle
from sslcore.runs.store import Run

try:
    import ray
    import ray.exceptions as rayerr
except ImportError:  # Ray is optional: requirements-ray.txt
    ray = None

log = logging.getLogger(__name__)
CANCEL_GRACE_S = 3.0  # a run that has not stopped this long after a cancel is killed by ray.cancel
CANCEL_CHECK_S = 0.5  # how often a run on a node asks whether it was cancelled
RESOURCES_S = 5.0  # how long the cluster's resource totals are reused before asking again
DEFAULT_GPU_SHARE = 0.25  # GPU per run when the cluster has GPUs: four short runs share one
# A Ray worker process serves this many runs before a fresh one replaces it: torch is imported once per
# worker, not per run (Ray's default for GPU tasks is one call per process), and leaks cannot pile up.
RUNS_PER_RAY_WORKER = 20
SHIPPED_SUFFIXES = (".zip", ".csv", ".txt")  # uploaded datasets that travel to the node with the run
NODE_DATA = Path(tempfile.gettempdir()) / "pretext-lab-node"  # per node: caches only (baselines, downloads)
# The code a run needs, sent to the nodes with the job (Ray only ships folders for a whole job, at ray.init).
RUNTIME_ENV = {"py_modules": [str(Path(__file__).resolve().parents[1])], "excludes": ["__pycache__"]}


def _lost(err: Exception, node: str | None) -> str:
    """Why a run on the cluster ended without a result, in words."""
    where = f"on Ray node {node}" if node else "on the Ray cluster"
    if isinstance(err, rayerr.OutOfMemoryError):
        return f"out of memory {where}: Ray stopped the run; lower the batch size, or give each run more memory"
    if isinstance(err, rayerr.WorkerCrashedError):
        return f"the Ray worker running it {where} stopped unexpectedly (killed, or it crashed)"
    if isinstance(err, rayerr.NodeDiedError | rayerr.LocalRayletDiedError | rayerr.ObjectLostError):
        return f"the Ray node running it was lost ({where.removeprefix('on ')})"
    if isinstance(err, rayerr.RuntimeEnvSetupError):
        return f"the Ray node could not set up Pretext Lab's code ({where}): {_short(err)}"
    if isinstance(err, rayerr.RayTaskError):
        return f"internal error {where}: {_short(err.cause or err)}"
    return f"lost {where}: {type(err).__name__}: {_short(err)}"


def _short(err: BaseException, limit: int = 300) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dataset_to_ship(dataset: str | None) -> tuple[str, bytes] | None:
    """An uploaded dataset file travels with its run (no shared filesystem); built-in names need nothing."""
    if not dataset:
        return None
    path = Path(dataset).expanduser()
    if path.is_dir():
        raise ConfigError(f"the folder {dataset} cannot be sent to the Ray cluster: zip it (one folder per class)")
    if not path.is_file():
        return None  # a built-in dataset: made or found on the node
    if path.suffix.lower() not in SHIPPED_SUFFIXES:
        raise ConfigError(f"{path.name}: only {', '.join(SHIPPED_SUFFIXES)} datasets can be sent to the Ray cluster")
    return f"dataset{path.suffix.lower()}", path.read_bytes()


SOURCE_FILES = ("config.json", "results.json", "weights.safetensors")  # what a fine-tune reads of its source


def _source_to_ship(init_from: str | None, data_dir: Path) -> dict[str, bytes] | None:
    """A fine-tune's source run travels with it (its id was checked when the run was queued: 12 hex digits)."""
    if not init_from:
        return None
    folder = Path(data_dir) / "runs" / init_from
    try:
        return {name: (folder / name).read_bytes() for name in SOURCE_FILES}
    except FileNotFoundError:
        raise ConfigError(f"run {init_from} cannot be fine-tuned: it has not finished or its files are gone") from None


def run_on_node(
    run_id: str, config: dict, dataset: tuple[str, bytes] | None, board, device: str, source: dict | None = None
):
    """The body of a run's Ray task: yields {"kind": "placed"}, the trainer's events, then its Outcome."""
    from sslcore import artifacts
    from sslcore.finetune import source_dir
    from sslcore.runs.local import execute  # imports torch: on the node only

    inbox: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    asked = {"at": 0.0, "cancelled": False}

    def should_stop() -> bool:
        if not stop.is_set() and time.monotonic() - asked["at"] >= CANCEL_CHECK_S:
            asked["at"] = time.monotonic()
            try:
                asked["cancelled"] = ray.get(board.cancelled.remote(run_id), timeout=10)
            except rayerr.RayError:
                pass  # cannot ask now: ask again in a moment; ray.cancel still ends it
        return stop.is_set() or asked["cancelled"]

    def work() -> None:
        try:
            with tempfile.TemporaryDirectory(prefix=f"pretext-lab-{run_id}-") as tmp:
                settings = dict(config)
                if dataset is not None:
                    (Path(tmp) / dataset[0]).write_bytes(dataset[1])
                    settings["dataset"] = str(Path(tmp) / dataset[0])
                NODE_DATA.mkdir(parents=True, exist_ok=True)
                if source is not None:  # where run_experiment looks for a fine-tune's source run
                    folder = source_dir(NODE_DATA, config["init_from"])
                    folder.mkdir(parents=True, exist_ok=True)
                    for name, data in source.items():
                        (folder / name).write_bytes(data)
                throttle = Throttle(lambda event, _progress: inbox.put(event))
                outcome = execute(settings, Path(tmp) / "run", NODE_DATA, should_stop, throttle, device)
                throttle.flush()
                if outcome.status == "succeeded":
                    outcome.files = artifacts.read_run_files(Path(tmp) / "run")
                release_gpu_memory()
        except Exception as err:  # e.g. the node's disk is full: that run fails with the reason
            outcome = Outcome("failed", error=f"on Ray node {ray.util.get_node_ip_address()}: {_short(err)}")
        inbox.put(outcome)

    threading.Thread(target=work, name=f"run-{run_id}", daemon=True).start()
    yield {"kind": "placed", "node": ray.util.get_node_ip_address(), "pid": os.getpid()}
    try:
        while True:
            try:
                item = inbox.get(timeout=0.5)  # a timeout keeps the task interruptible by ray.cancel
            except queue.Empty:
                continue
            yield item
            if isinstance(item, Outcome):
                return
    finally:
        stop.set()  # cancelled or failed: the training thread stops at its next step


def release_gpu_memory() -> None:
    """The Ray worker process outlives the run: hand its cached GPU memory back to the runs sharing the GPU."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class CancelBoard:
    """Which runs were cancelled: the tasks ask it (a Ray actor with no CPU of its own)."""

    def __init__(self):
        self.ids: set[str] = set()

    def cancel(self, run_id: str) -> None:
        self.ids.add(run_id)

    def forget(self, run_id: str) -> None:
        self.ids.discard(run_id)

    def cancelled(self, run_id: str) -> bool:
        return run_id in self.ids


@dataclass
class Flight:
    stream: object  # the task's ObjectRefGenerator
    node: str | None = None
    cancel_asked: float | None = None


class RayExecutor:
    """Runs as Ray tasks on a cluster, as many at once as its resources hold."""

    name = "ray"

    def __init__(
        self,
        device: str = "auto",
        address: str | None = None,
        gpus_per_run: float | None = None,
        cpus_per_run: float = 1.0,
    ):
        if ray is None:
            raise ConfigError("the Ray executor needs Ray: pip install -r requirements-ray.txt")
        if not ray.is_initialized():
            try:
                ray.init(address=address or None, namespace="pretext-lab", runtime_env=RUNTIME_ENV)
            except Exception as err:  # ConnectionError, AuthenticationError, a version mismatch...
                raise ConfigError(f"cannot use the Ray cluster at {address or '(auto)'}: {_short(err, 500)}") from None
        self.address, self.device = address, device
        self._resources, self._resources_at = ray.cluster_resources(), time.monotonic()
        if gpus_per_run is None:
            gpus_per_run = DEFAULT_GPU_SHARE if self._resources.get("GPU", 0) > 0 else 0.0
        if gpus_per_run < 0 or cpus_per_run < 0 or (gpus_per_run == 0 and cpus_per_run == 0):
            raise ConfigError("each Ray run must ask for some CPU or GPU (--ray-cpus, --ray-gpus)")
        self.gpus, self.cpus = float(gpus_per_run), float(cpus_per_run)
        self.board = ray.remote(num_cpus=0)(CancelBoard).remote()
        self.task = ray.remote(
            num_cpus=self.cpus,
            num_gpus=self.gpus,
            max_retries=0,  # a run is never retried behind the student's back: it fails with the reason
            max_calls=RUNS_PER_RAY_WORKER,
        )(run_on_node)
        self.flights: dict[str, Flight] = {}

    def _totals(self) -> dict:
        if time.monotonic() - self._resources_at >= RESOURCES_S:
            self._resources, self._resources_at = ray.cluster_resources(), time.monotonic()
        return self._resources

    def capacity(self) -> int:
        """How many runs the cluster holds at once with this resource request."""
        totals = self._totals()
        fits = [totals.get(key, 0.0) / need for key, need in (("CPU", self.cpus), ("GPU", self.gpus)) if need > 0]
        return math.floor(min(fits) + 1e-9)

    def describe(self) -> str:
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        totals = self._totals()
        gpus, cpus = totals.get("GPU", 0.0), totals.get("CPU", 0.0)
        text = f"Ray cluster, {nodes} node{'s' * (nodes != 1)}, {gpus:g} GPU{'s' * (gpus != 1)}, {cpus:g} CPUs"
        if self.capacity() < 1:
            return f"{text}: too small for a run ({self.gpus:g} GPU, {self.cpus:g} CPU each)"
        return f"{text} · {self.gpus:g} GPU, {self.cpus:g} CPU per run"

    def free_slots(self) -> int:
        return max(0, self.capacity() - len(self.flights))

    def submit(self, run: Run, run_dir: Path, data_dir: Path) -> None:
        dataset = _dataset_to_ship(run.config.get("dataset"))
        source = _source_to_ship(run.config.get("init_from"), data_dir)
        stream = self.task.options(name=f"pretext-lab-{run.task}-{run.id}").remote(
            run.id, run.config, dataset, self.board, self.device, source
        )
        self.flights[run.id] = Flight(stream)

    def poll(self, run_id: str) -> tuple[list[dict], Outcome | None]:
        flight, events, outcome = self.flights[run_id], [], None
        while outcome is None and ray.wait([flight.stream], timeout=0)[0]:
            try:
                item = ray.get(next(flight.stream))
            except StopIteration:
                outcome = Outcome("failed", error="the Ray task ended without a result")
            except rayerr.TaskCancelledError:
                outcome = Outcome("cancelled")
            except rayerr.RayError as err:
                outcome = Outcome("cancelled") if flight.cancel_asked else Outcome("failed", error=_lost(err, flight.node))
            else:
                if isinstance(item, Outcome):
                    outcome = item
                else:
                    flight.node = item.get("node", flight.node)
                    events.append(item)
        if outcome is None and flight.cancel_asked and time.monotonic() - flight.cancel_asked > CANCEL_GRACE_S:
            ray.cancel(flight.stream, force=True)  # it did not stop by itself: end its worker
            outcome = Outcome("cancelled")
        if outcome is not None:
            del self.flights[run_id]
            self.board.forget.remote(run_id)
        return events, outcome

    def cancel(self, run_id: str) -> None:
        if run_id in self.flights and self.flights[run_id].cancel_asked is None:
            self.flights[run_id].cancel_asked = time.monotonic()
            self.board.cancel.remote(run_id)

    def close(self) -> None:
        for flight in self.flights.values():
            ray.cancel(flight.stream, force=True)
        self.flights.clear()
        ray.kill(self.board)
