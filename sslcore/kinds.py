"""Run kinds and the names the run queue needs, in a module that imports nothing heavy.

A run's ``task`` is a pretext task's name (``sslcore.tasks.TASKS``, or ``custom``) or one of the reference
runs named here; ``sslcore.tasks.RUN_KINDS`` lists them all and ``sslcore.tasks.run_objective`` says what
each trains. These names are written only here: everything else imports them (a test holds that).

The run store and the dispatcher import only this (never torch), so they start in a fraction of a second;
the training code imports the same names from here.
"""

from __future__ import annotations

RANDOM_INIT = "random_init"  # the untrained baseline: same backbone, no training, same evaluation
SUPERVISED = "supervised"  # training on the real labels: the reference every pretext task is held against
FINETUNE = "finetune"  # supervised training that starts from a finished run's backbone (sslcore/finetune.py)
REFERENCE_KINDS = (SUPERVISED, RANDOM_INIT, FINETUNE)  # runs that are not a pretext task
CUSTOM = "custom"  # a pretext task a person designed (sslcore/tasks/custom.py); its design is in params
# what turns a run's config into its random-init baseline's (same data, split and backbone; no task, no source)
BASELINE_OVERRIDES = {"task": RANDOM_INIT, "params": {}, "init_from": None, "labels_per_class": None}
PRETEXT = "task"  # what the store files every pretext-task run under (custom designs included)


def kind_of(task: str) -> str:
    """What the store files a run under: the reference runs by name, every pretext task as PRETEXT."""
    return task if task in REFERENCE_KINDS else PRETEXT
