"""Background runs: a persistent SQLite run store and worker processes that survive faults."""

from sslcore.runs.executor import Executor, LocalExecutor
from sslcore.runs.store import FINISHED, STATUSES, WORKER_DIED, Run, RunNotFound, RunStore, StoreUnavailable
from sslcore.runs.worker import Worker, ensure_worker, serve

__all__ = [
    "FINISHED",
    "STATUSES",
    "WORKER_DIED",
    "Executor",
    "LocalExecutor",
    "Run",
    "RunNotFound",
    "RunStore",
    "StoreUnavailable",
    "Worker",
    "ensure_worker",
    "serve",
]
