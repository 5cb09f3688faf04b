"""The contract every pretext task follows, and the small pieces they share.

A task turns a batch of unlabelled images into (inputs, pseudo-labels) with tensor ops on the
training device. The preview and the training call the same ``make_batch``: what a person sees is
exactly what the network is fed.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from sslcore.errors import ConfigError


# --------------------------------------------------------------------------------------------- params
def param(default, help: str, *, min=None, max=None, choices=None):  # noqa: A002 - mirrors argparse
    """A task knob: default, the range or choices a person may pick from, and one line of help.

    The UI builds its widgets and the CLI its ``--param key=value`` parsing from this metadata.
    """
    return field(default=default, metadata={"help": help, "min": min, "max": max, "choices": choices})


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: type
    default: Any
    help: str
    min: Any = None
    max: Any = None
    choices: tuple | None = None


def param_specs(params_cls) -> list[ParamSpec]:
    """Describe a params dataclass so a UI or CLI can offer its knobs without knowing the task."""
    specs = []
    for f in dataclasses.fields(params_cls):
        meta = f.metadata
        ftype = {"int": int, "float": float, "bool": bool, "str": str}.get(f.type, f.type) if isinstance(f.type, str) else f.type
        choices = tuple(meta["choices"]) if meta.get("choices") else None
        specs.append(ParamSpec(f.name, ftype, f.default, meta.get("help", ""), meta.get("min"), meta.get("max"), choices))
    return specs


def _coerce(spec: ParamSpec, value):
    if spec.type is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ValueError("expected true or false")
    if spec.type is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("expected a whole number")
        try:  # Python's own text ("invalid literal for int() with base 10") means nothing to a person
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if spec.type is float:
        try:
            number = float(value)
        except ValueError:
            raise ValueError("expected a number, e.g. 0.5") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
        return number
    return str(value)


def make_params(params_cls, values: dict[str, Any] | None = None):
    """Build a params dataclass from loose values (strings from a CLI or URL), checked against the specs.

    Unknown names, unparsable values and values outside a knob's range are a ConfigError that says
    which knob, what was given and what is allowed.
    """
    values = dict(values or {})
    specs = {s.name: s for s in param_specs(params_cls)}
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(specs) or 'none'}")
    kwargs = {}
    for name, raw in values.items():
        spec = specs[name]
        try:
            value = _coerce(spec, raw)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"parameter {name}={raw!r}: {err}") from None
        if spec.choices is not None and value not in spec.choices:
            raise ConfigError(f"parameter {name}={value!r} must be one of {', '.join(map(str, spec.choices))}")
        if spec.min is not None and value < spec.min:
            raise ConfigError(f"parameter {name}={value} is below its minimum {spec.min}")
        if spec.max is not None and value > spec.max:
            raise ConfigError(f"parameter {name}={value} is above its maximum {spec.max}")
        kwargs[name] = value
    return params_cls(**kwargs)


def parse_param_args(items: list[str] | None) -> dict[str, str]:
    """Turn CLI ``key=value`` strings into a dict (values stay strings; ``make_params`` checks them)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


# ------------------------------------------------------------------------------------- batches, preview
@dataclass
class PretextBatch:
    """What one training step consumes.

    inputs: float images in [0, 1] (or a task's own layout, e.g. tiles); targets: the pseudo-labels;
    originals: the float [0, 1] images the batch was made from; extra: task-specific tensors the loss or
    preview needs (masks, permutation ids, crop boxes...).
    """

    inputs: Tensor
    targets: Tensor | None
    originals: Tensor
    extra: dict[str, Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.originals)


@dataclass
class Box:
    """A rectangle to outline on a preview image, in pixel coordinates of that image (x0, y0 inclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int
    color: tuple[int, int, int] = (255, 64, 64)


@dataclass
class PreviewImage:
    image: Tensor  # (3, H, W) float in [0, 1]
    caption: str
    boxes: list[Box] = field(default_factory=list)


@dataclass
class PreviewItem:
    """One original image, what the network gets from it, and the pseudo-label in words."""

    original: PreviewImage
    views: list[PreviewImage]
    label: str


@dataclass
class Token:
    """One token of a text preview. ``mark`` says what the task did to it (see ``preview.TOKEN_MARKS``);
    ``note`` is what a person should read under it (the hidden word, "replaced"...)."""

    text: str
    mark: str | None = None
    note: str | None = None


@dataclass
class TextView:
    tokens: list[Token]
    caption: str


@dataclass
class TextPreviewItem:
    """One sentence (or pair), what the network gets from it, and the pseudo-label in words."""

    original: str
    views: list[TextView]
    label: str


@dataclass(frozen=True)
class Teaching:
    """The short lesson each task carries: what it predicts, why that helps, how it can be cheated."""

    predicts: str
    why: str
    shortcuts: str
    guard: str
    paper: str


# ----------------------------------------------------------------------------------------------- tasks
class PretextTask(abc.ABC):
    """Base class. Subclasses set the class attributes and implement make_batch / head / loss / explain."""

    name: ClassVar[str]
    title: ClassVar[str]
    modality: ClassVar[str] = "image"
    kind: ClassVar[str]  # "classification" | "reconstruction" | "contrastive" | "non-contrastive"
    summary: ClassVar[str]
    metric: ClassVar[str] = "accuracy"  # the key in loss()'s metrics that measures pretext success
    metric_label: ClassVar[str] = "pretext accuracy"
    higher_is_better: ClassVar[bool] = True
    needs_labels: ClassVar[bool] = False  # only the supervised reference: the loop fills batch.targets
    teaching: ClassVar[Teaching]

    @dataclass
    class Params:
        pass

    def __init__(self, params=None, **values):
        if params is not None and values:
            raise TypeError("pass either a params object or keyword values")
        self.params = params if params is not None else make_params(self.Params, values)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"

    # What a subclass provides ---------------------------------------------------------------------
    def check(self, image_size: int) -> None:
        """Raise ConfigError when these params cannot work on images of this size (most tasks: any size works)."""
        return None

    @abc.abstractmethod
    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        """Inputs and pseudo-labels for a uint8 or [0,1] float batch, as tensor ops on its device."""

    @abc.abstractmethod
    def head(self, backbone: nn.Module, image_size: int) -> nn.Module:
        """The task's head for this backbone (``feature_dim``, ``stride``) and image size."""

    @abc.abstractmethod
    def loss(self, out, batch: PretextBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss and the metrics a person watches (e.g. pretext accuracy), as 0-dim tensors on the device:
        the training loop reads them only when it reports progress, so a GPU step never waits for the host."""

    @abc.abstractmethod
    def explain(self, batch: PretextBatch) -> list[PreviewItem]:
        """One PreviewItem per image: what a person should see of this batch."""

    # Shared behaviour -----------------------------------------------------------------------------
    def setup(self, data) -> None:
        """Bind to the dataset before making batches. Text tasks read its tokenizer; image tasks need nothing."""
        return None

    def forward(self, backbone: nn.Module, head: nn.Module, batch: PretextBatch):
        """Default wiring: pooled backbone features into the head. Tasks with tiles or maps override."""
        return head(backbone(batch.inputs))

    def lesson(self) -> Teaching:
        """The lesson for these knob settings (a task whose wording depends on a knob overrides this)."""
        return self.teaching

    def prepare(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        """Check the size, then make the batch. The single entry point for training and preview."""
        self.check(images.shape[-1])
        return self.make_batch(images, gen)


def as_float_images(images: Tensor) -> Tensor:
    """uint8 (B,3,H,W) -> float in [0, 1]; float input is passed through. Keeps the device."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()

