"""Background runs: a persistent SQLite run store, a dispatcher process and its executors (local or Ray).

Importing this package (the store, the dispatcher) does not import torch: the executors that train are
loaded only when one is made (``make_executor``), so the app and the dispatcher start fast.
"""

from sslcore.errors import NotAllowed, QueueFull, RunNotFound, StoreUnavailable
from sslcore.runs.eta import evaluation_phase
from sslcore.runs.executor import Executor, Outcome
from sslcore.runs.store import (
    FINISHED,
    STATUSES,
    TEACHER_TOKEN_ENV,
    WORKER_DIED,
    Run,
    RunStore,
    display_owner,
    is_teacher,
)
from sslcore.runs.worker import Worker, ensure_worker, make_executor, serve


def __getattr__(name: str):
    if name == "LocalExecutor":  # imports torch: only when asked for
        from sslcore.runs.local import LocalExecutor

        return LocalExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FINISHED",
    "STATUSES",
    "TEACHER_TOKEN_ENV",
    "WORKER_DIED",
    "Executor",
    "LocalExecutor",
    "NotAllowed",
    "Outcome",
    "QueueFull",
    "Run",
    "RunNotFound",
    "RunStore",
    "StoreUnavailable",
    "Worker",
    "display_owner",
    "ensure_worker",
    "evaluation_phase",
    "is_teacher",
    "make_executor",
    "serve",
]
