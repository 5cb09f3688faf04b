"""Run kinds and the names the run queue needs, in a module that imports nothing heavy.

The run store and the dispatcher import only this (never torch), so they start in a fraction of a second;
the training code imports the same names from here.
"""

from __future__ import annotations

RANDOM_INIT = "random_init"
SUPERVISED = "supervised"
FINETUNE = "finetune"  # supervised training that starts from a finished run's backbone (sslcore/finetune.py)
REFERENCE_KINDS = (SUPERVISED, RANDOM_INIT, FINETUNE)  # runs that are not a pretext task


def kind_of(task: str) -> str:
    """What the store files a run under: the reference runs by name, every pretext task as "task"."""
    return task if task in REFERENCE_KINDS else "task"
