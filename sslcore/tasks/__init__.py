"""The registry: one module per pretext task, one dict that names them, and every kind of run.

A run's ``task`` is one of ``RUN_KINDS``: a pretext task of ``TASKS``, ``custom`` (a person's own design),
or a reference run whose name lives in ``sslcore.kinds`` (random init, supervised, finetune), which the
run store imports without torch. ``run_objective`` is the one place that maps each to what it trains.
"""

import dataclasses

from sslcore.errors import ConfigError
from sslcore.kinds import FINETUNE, RANDOM_INIT, REFERENCE_KINDS, SUPERVISED
from sslcore.tasks.autoencoder import Autoencoder
from sslcore.tasks.base import (
    EVAL_VIEWS,
    TASK_KINDS,
    ParamSpec,
    PretextBatch,
    PretextTask,
    PreviewImage,
    PreviewItem,
    TextPreviewItem,
    TextView,
    Token,
    make_params,
    param_specs,
    view_inputs,
)
from sslcore.tasks.colorization import Colorization
from sslcore.tasks.custom import CUSTOM, CustomTask
from sslcore.tasks.inpainting import Inpainting
from sslcore.tasks.jigsaw import Jigsaw
from sslcore.tasks.masked_image import MaskedImage
from sslcore.tasks.masked_language import MaskedLanguage
from sslcore.tasks.relative_position import RelativePosition
from sslcore.tasks.replaced_token import ReplacedToken
from sslcore.tasks.rotation import Rotation
from sslcore.tasks.sentence_order import SentenceOrder
from sslcore.tasks.simclr import SimCLR
from sslcore.tasks.simsiam import SimSiam
from sslcore.tasks.skip_gram import SkipGram
from sslcore.tasks.supervised import Supervised

TASKS: dict[str, type[PretextTask]] = {
    cls.name: cls
    for cls in (
        *(Rotation, Jigsaw, RelativePosition, Colorization, Inpainting, MaskedImage, SimCLR, SimSiam, Autoencoder),
        *(MaskedLanguage, ReplacedToken, SentenceOrder, SkipGram),
    )
}

RUN_KINDS: tuple[str, ...] = (*TASKS, CUSTOM, *REFERENCE_KINDS)  # every value a run's ``task`` may take


def run_objective(task: str, params: dict | None = None, num_classes: int = 2) -> PretextTask | None:
    """What a run of this kind trains: a pretext task, the supervised objective (supervised and finetune
    runs: a fine-tune is supervised training that starts from another run's backbone), or None for the
    untrained random-init baseline. ``num_classes`` sizes the supervised head."""
    if task == RANDOM_INIT:
        if params:
            raise ConfigError(f"{RANDOM_INIT} takes no parameters")
        return None
    if task in (SUPERVISED, FINETUNE):
        return Supervised(make_params(Supervised.Params, params), num_classes=num_classes)
    return get_task(task, params)


def run_view(task: str) -> str:
    """The evaluation view (``EVAL_VIEWS``) a run of this kind is evaluated on when its config names none: a
    pretext task's own (colorization: "grey"), "image" for custom designs and the reference runs."""
    return TASKS[task].eval_view if task in TASKS else "image"


def run_modality(task: str) -> str:
    """ "image" or "text" for a pretext task; "any" for the reference runs, which read either."""
    if task == CUSTOM:
        return CustomTask.modality
    return TASKS[task].modality if task in TASKS else "any"


def task_class(name: str) -> type[PretextTask]:
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; available: {', '.join(TASKS)}") from None


def get_task(name: str, params: dict | None = None) -> PretextTask:
    """A task by name with its params checked (strings from a CLI or URL are fine).

    ``custom`` is a person's own design: ``params = {"definition": <JSON>}`` (see tasks/custom.py).
    """
    if name == CUSTOM:
        return CustomTask(make_params(CustomTask.Params, params))
    cls = task_class(name)
    return cls(make_params(cls.Params, params))


def list_tasks(modality: str | None = None) -> list[type[PretextTask]]:
    """Tasks in menu order, optionally only those for "image" or "text" data."""
    return [cls for cls in TASKS.values() if modality in (None, cls.modality)]


def describe_task(cls: type[PretextTask]) -> dict:
    """Everything a UI, the CLI's ``--json`` or docs need to know about a task, as plain data."""
    return {
        "name": cls.name,
        "title": cls.title,
        "modality": cls.modality,
        "kind": cls.kind,
        "summary": cls.summary,
        "metric": cls.metric,
        "metric_label": cls.metric_label,
        "eval_view": cls.eval_view,
        "params": [
            {
                "name": s.name,
                "type": s.type.__name__,
                "default": s.default,
                "min": s.min,
                "max": s.max,
                "choices": list(s.choices) if s.choices else None,
                "help": s.help,
            }
            for s in param_specs(cls.Params)
        ],
        "teaching": dataclasses.asdict(cls.teaching),
    }


__all__ = [
    "EVAL_VIEWS",
    "RUN_KINDS",
    "TASKS",
    "TASK_KINDS",
    "ParamSpec",
    "PretextBatch",
    "PretextTask",
    "PreviewImage",
    "PreviewItem",
    "TextPreviewItem",
    "TextView",
    "Token",
    "get_task",
    "describe_task",
    "list_tasks",
    "make_params",
    "param_specs",
    "run_modality",
    "run_view",
    "run_objective",
    "task_class",
    "view_inputs",
]
