"""Background runs: a persistent SQLite run store and worker processes that survive faults."""

from sslcore.runs.executor import Executor, LocalExecutor
from sslcore.runs.store import (
    FINISHED,
    STATUSES,
    TEACHER_TOKEN_ENV,
    WORKER_DIED,
    NotAllowed,
    Run,
    RunNotFound,
    RunStore,
    StoreUnavailable,
    display_owner,
    is_teacher,
)
from sslcore.runs.worker import Worker, ensure_worker, serve

__all__ = [
    "FINISHED",
    "STATUSES",
    "TEACHER_TOKEN_ENV",
    "WORKER_DIED",
    "Executor",
    "LocalExecutor",
    "NotAllowed",
    "Run",
    "RunNotFound",
    "RunStore",
    "StoreUnavailable",
    "Worker",
    "display_owner",
    "ensure_worker",
    "is_teacher",
    "serve",
]
