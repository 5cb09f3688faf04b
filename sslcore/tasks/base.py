"""The contract every pretext task follows, image or text, and the small pieces they share.

A task turns a batch of unlabelled examples — images, or sentences as token ids — into (inputs,
pseudo-labels) with tensor ops on the training device. The preview, the training loop, predictions and
the FLOP count all call the same ``prepare``: what a person sees is exactly what the network is fed.
``PretextTask`` below says what each method receives and returns for both modalities.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, final

import torch
from torch import Tensor, nn

from sslcore.color import lightness_rgb
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

    inputs: what the network reads: float images in [0, 1] (or an image task's own layout, e.g. tiles),
    or int64 token ids (B, L) for text tasks; targets: the pseudo-labels (the supervised reference's are
    filled in by the training loop); originals: what the batch was made from (float [0, 1] images, or
    the (B, 2, L) token rows); extra: task-specific tensors the loss or preview needs (masks,
    permutation ids, crop boxes, chosen positions...).
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


# --------------------------------------------------------------------------------------- evaluation views
EVAL_VIEWS: dict[str, str] = {
    # what a task's features are evaluated on (probes, kNN, few labels, factors, maps, fine-tunes,
    # predictions): the input it was trained on. The only values ``PretextTask.eval_view`` takes.
    "image": "the images themselves",
    "grey": "grey inputs (the lightness channel L as grey RGB, as colorization is trained)",
}
VIEW_CHUNK = 4096  # images converted at a time: a large dataset's Lab copy stays small


def view_inputs(view: str, images: Tensor) -> Tensor:
    """A dataset's inputs as evaluation view ``view`` shows them: the same tensor for "image" (no copy; text
    rows too), for "grey" uint8 images (B, 3, H, W) with R = G = B = round(255·L/100), exactly the
    lightness colorization's ``make_batch`` feeds (float input stays float). Pure and batched."""
    if view == "image":
        return images
    if view != "grey":
        raise ConfigError(f"unknown evaluation view {view!r}; one of {', '.join(EVAL_VIEWS)}")
    if images.dtype == torch.uint8:
        parts = [lightness_rgb(as_float_images(c)).mul_(255).round_().to(torch.uint8) for c in images.split(VIEW_CHUNK)]
    else:
        parts = [lightness_rgb(as_float_images(c)) for c in images.split(VIEW_CHUNK)]
    return torch.cat(parts) if parts else images.clone()


# ----------------------------------------------------------------------------------------------- tasks
TASK_KINDS: dict[str, str] = {
    # what a task's network predicts, the only values ``PretextTask.kind`` takes (the CLI's `tasks --json` shows it)
    "classification": "one of a fixed set of pseudo-labels (which rotation, which permutation, which word)",
    "regression": "a number per example (a custom task's amount)",
    "reconstruction": "pixels or colours of the input (inpainting, masked patches, colorization)",
    "contrastive": "which candidate is the true partner, among negatives (other views, random words)",
    "non-contrastive": "one view's embedding from another's, without negatives (SimSiam)",
    "reference": "not a pretext task: the supervised reference, trained on the real labels",
}


class PretextTask(abc.ABC):
    """Base class of every task; the contract a new task follows.

    **What a task receives.** A batch as the dataset holds it, on the training device:
    - image tasks (``modality = "image"``): uint8 or float [0, 1] images, (B, 3, H, W);
    - text tasks (``modality = "text"``, subclasses of ``sslcore.tasks.text.TextTask``): int64 token rows
      (B, 2, L) = (sentence, the sentence after it in its paragraph or all [PAD]); ``setup(dataset)``
      binds the dataset's tokenizer first.
    The supervised reference (``modality = "any"``) reads either.

    **The one path.** ``prepare(x, gen)`` = ``admit(x)`` then ``make_batch``. It is final: every caller
    (training, preview, prediction, FLOP count) goes through it, and a task changes what happens by
    overriding the hooks, never ``prepare`` itself:
    - ``check(image_size)``: reject params that cannot work on images of this size (a ConfigError). It is
      also called by ``TrainConfig.validate`` before any data is loaded. Text tasks need none.
    - ``admit(x)``: check a raw batch and return it in the layout ``make_batch`` reads. Images: ``check``
      the side and pass them on unchanged. Text (``TextTask``): the tokenizer must be bound, (B, L) rows
      get an all-[PAD] second sentence, and all-[PAD] columns are trimmed.
    - ``make_batch(x, gen)``: inputs and pseudo-labels, as batched tensor ops on x's device; randomness
      only from ``gen`` (a CPU generator: the same seed gives the same batch on any device), drawn per
      example.

    **The network.** ``head(backbone, image_size)`` builds the task's head from the backbone (its
    ``feature_dim``; see ``sslcore.models`` for what each backbone provides) and the configured image side
    (image decoders size their output from it; text tasks receive the config's value and ignore it).
    ``forward(backbone, head, batch)`` wires them (default: pooled features into the head).
    ``loss(out, batch)`` returns (loss, metrics), 0-dim tensors on the device, computed by the pure
    functions of ``sslcore.losses``; ``metrics[metric]`` is the pretext metric a person watches.
    ``explain(batch)`` says what a person should see: a ``PreviewItem`` per image, a
    ``TextPreviewItem`` per sentence.
    """

    name: ClassVar[str]  # the registry's key, a run's ``task`` (sslcore.tasks.TASKS)
    title: ClassVar[str]
    modality: ClassVar[str] = "image"  # "image" | "text" ("any": the supervised reference)
    kind: ClassVar[str]  # one of TASK_KINDS
    summary: ClassVar[str]
    metric: ClassVar[str] = "accuracy"  # the key in loss()'s metrics that measures pretext success
    metric_label: ClassVar[str] = "pretext accuracy"
    needs_labels: ClassVar[bool] = False  # only the supervised reference: the loop fills batch.targets
    eval_view: ClassVar[str] = "image"  # one of EVAL_VIEWS: the input its features are evaluated on
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

    # The one entry point (never overridden) ---------------------------------------------------------
    @final
    def prepare(self, x: Tensor, gen: torch.Generator) -> PretextBatch:
        """Admit the batch, then make the pretext batch: the single path of training, preview and prediction."""
        return self.make_batch(self.admit(x), gen)

    # Hooks a subclass may override ------------------------------------------------------------------
    def check(self, image_size: int) -> None:
        """Raise ConfigError when these params cannot work on images of this size (most tasks: any size works)."""
        return None

    def admit(self, x: Tensor) -> Tensor:
        """Check a raw batch and return what ``make_batch`` reads. Images: (B, 3, H, W), checked, unchanged."""
        self.check(x.shape[-1])
        return x

    def setup(self, data) -> None:
        """Bind to the dataset before making batches. Text tasks read its tokenizer; image tasks need nothing."""
        return None

    def forward(self, backbone: nn.Module, head: nn.Module, batch: PretextBatch):
        """Default wiring: pooled backbone features into the head. Tasks with tiles, maps or tokens override."""
        return head(backbone(batch.inputs))

    def lesson(self) -> Teaching:
        """The lesson for these knob settings (a task whose wording depends on a knob overrides this)."""
        return self.teaching

    # What a subclass must provide --------------------------------------------------------------------
    @abc.abstractmethod
    def make_batch(self, x: Tensor, gen: torch.Generator) -> PretextBatch:
        """Inputs and pseudo-labels for an admitted batch (images or token rows), as tensor ops on its device."""

    @abc.abstractmethod
    def head(self, backbone: nn.Module, image_size: int) -> nn.Module:
        """The task's head for this backbone (and, for image decoders, this image side)."""

    @abc.abstractmethod
    def loss(self, out, batch: PretextBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss and the metrics a person watches (e.g. pretext accuracy), as 0-dim tensors on the device:
        the training loop reads them only when it reports progress, so a GPU step never waits for the host."""

    @abc.abstractmethod
    def explain(self, batch: PretextBatch) -> list[PreviewItem] | list[TextPreviewItem]:
        """What a person should see of this batch: one PreviewItem per image, one TextPreviewItem per sentence."""


def as_float_images(images: Tensor) -> Tensor:
    """uint8 (B,3,H,W) -> float in [0, 1]; float input is passed through. Keeps the device."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()

