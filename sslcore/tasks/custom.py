"""A pretext task a person designs: transformations from ``sslcore.transforms`` and what the network must predict.

The design is plain data (a JSON object), checked like every other input::

    {"name": "Predict the flip", "target": "which", "transforms": [{"name": "hflip"}]}

- ``target: "which"``: each image gets one of the transformations (or none, with ``include_none``); the
  network classifies which one.
- ``target: "amount"``: every transformation is applied with a random amount from its range; the network
  regresses the amounts (R² is the pretext metric), or, with ``levels: k`` and one transformation,
  classifies which of k evenly spaced amounts was used ({"rotate", 0..270, levels 4} is rotation prediction).
- ``target: "match"``: two views per image, each with its own random amounts; SimCLR's contrastive loss
  pulls a view towards its partner (the invariances are the transformations you picked).

The run config carries the definition (``params = {"definition": <canonical JSON>}``), so a worker can
rebuild the task without any other file, and a URL can carry it too (``encode_definition``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

import torch
from torch import Tensor

from sslcore.augment import randint
from sslcore.errors import ConfigError
from sslcore.kinds import CUSTOM
from sslcore.losses import classification_loss, nt_xent, regression_loss
from sslcore.models.heads import MLP
from sslcore.tasks.base import (
    PretextBatch,
    PretextTask,
    PreviewImage,
    PreviewItem,
    Teaching,
    as_float_images,
    param,
)
from sslcore.tasks.views import explain_views
from sslcore.transforms import TRANSFORMS

TARGETS = {
    "which": "which transformation was applied (classification)",
    "amount": "how much of each transformation (regression, or k levels)",
    "match": "whether two views come from the same image (contrastive)",
}
MAX_TRANSFORMS = len(TRANSFORMS)
MAX_LEVELS = 32
MAX_NAME_CHARS = 40
MAX_DEFINITION_CHARS = 4000
_NAME = re.compile(r"^[\w][\w .,'()+\-?!°%×]*$")
_KEYS = {"name", "target", "transforms", "levels", "include_none", "temperature"}


@dataclass(frozen=True)
class Step:
    """One chosen transformation and the range its amounts are drawn from."""

    name: str
    low: float
    high: float

    @property
    def transform(self):
        return TRANSFORMS[self.name]


@dataclass(frozen=True)
class Definition:
    """A checked custom task design (build it with ``parse_definition``)."""

    name: str
    target: str
    steps: tuple[Step, ...]
    levels: int | None = None
    include_none: bool = True
    temperature: float = 0.2

    def to_dict(self) -> dict:
        out = {
            "name": self.name,
            "target": self.target,
            "transforms": [{"name": s.name, "min": s.low, "max": s.high} for s in self.steps],
        }
        if self.target == "which":
            out["include_none"] = self.include_none
        if self.levels is not None:
            out["levels"] = self.levels
        if self.target == "match":
            out["temperature"] = self.temperature
        return out

    def to_json(self) -> str:
        """Canonical JSON: the same design always gives the same text (and the same run config)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def classes(self) -> list[str]:
        """What a classification target tells apart, in words (empty for regression and matching)."""
        if self.target == "which":
            return ["none"] * self.include_none + [s.transform.title for s in self.steps]
        if self.target == "amount" and self.levels:
            return [self.steps[0].transform.describe(a) for a in self.level_amounts()]
        return []

    def level_amounts(self) -> list[float]:
        step = self.steps[0]
        k = self.levels
        return [step.low + (step.high - step.low) * i / (k - 1) for i in range(k)]


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} must be a number, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _step(item, index: int, target: str) -> Step:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        raise ConfigError(f'transformation {index + 1} must be an object like {{"name": "hflip"}}, got {item!r}')
    unknown = sorted(set(item) - {"name", "min", "max"})
    if unknown:
        raise ConfigError(
            f"transformation {index + 1}: unknown field(s) {', '.join(map(str, unknown))}; use name, min, max"
        )
    name = item.get("name")
    if name not in TRANSFORMS:
        raise ConfigError(f"unknown transformation {name!r}; available: {', '.join(TRANSFORMS)}")
    t = TRANSFORMS[name]
    default_low, default_high = t.default_range(target)  # for 'which', away from 'unchanged' (a flip of 0 is no flip)
    low = _number(item.get("min", default_low), f"{name} min")
    high = _number(item.get("max", default_high), f"{name} max")
    if not t.low <= low <= t.high or not t.low <= high <= t.high:
        raise ConfigError(f"{name} range {low:g}..{high:g} is out of bounds: it must lie within {t.low:g}..{t.high:g}")
    if low > high:
        raise ConfigError(f"{name} range {low:g}..{high:g} is empty: min must not exceed max")
    if t.discrete and (low != int(low) or high != int(high)):
        raise ConfigError(f"{name} takes whole numbers only ({t.low:g}..{t.high:g}), got {low:g}..{high:g}")
    if target == "which" and low <= t.identity <= high:
        low_which, high_which = t.default_range("which")
        one_side = (
            f"start it at {low_which:g}" if t.discrete else f"keep it on one side, e.g. {low_which:g}..{high_which:g}"
        )
        raise ConfigError(
            f"{name} range {low:g}..{high:g} includes {t.identity:g} (unchanged): for 'which', an amount at or near "
            f"{t.identity:g} makes an example that looks like 'nothing applied' yet is labelled {t.title.lower()}; "
            f"{one_side}"
        )
    return Step(name, low, high)


def parse_definition(data) -> Definition:
    """A Definition from JSON text or a dict, or a ConfigError that says what is wrong and what is allowed."""
    if isinstance(data, (str, bytes)):
        if len(data) > MAX_DEFINITION_CHARS:
            raise ConfigError(f"custom task definition is too long (over {MAX_DEFINITION_CHARS} characters)")
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as err:
            raise ConfigError(f"custom task definition is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError("custom task definition must be a JSON object with name, target and transforms")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(
            f"unknown field(s) {', '.join(map(str, unknown))} in the custom task; valid: {', '.join(sorted(_KEYS))}"
        )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("give the custom task a name")
    name = " ".join(name.split())
    if len(name) > MAX_NAME_CHARS or not _NAME.match(name):
        raise ConfigError(
            f"task name {name[:MAX_NAME_CHARS]!r}: use up to {MAX_NAME_CHARS} letters, digits, spaces and simple punctuation"
        )
    target = data.get("target")
    if target not in TARGETS:
        raise ConfigError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    raw_steps = data.get("transforms")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ConfigError("pick at least one transformation")
    if len(raw_steps) > MAX_TRANSFORMS:
        raise ConfigError(f"at most {MAX_TRANSFORMS} transformations, got {len(raw_steps)}")
    steps = tuple(_step(item, i, target) for i, item in enumerate(raw_steps))
    if len({s.name for s in steps}) < len(steps):
        raise ConfigError("each transformation may appear only once")
    include_none = data.get("include_none", True)
    if not isinstance(include_none, bool):
        raise ConfigError(f"include_none must be true or false, got {include_none!r}")
    levels = data.get("levels")
    if levels is not None and (isinstance(levels, bool) or not isinstance(levels, int)):
        raise ConfigError(f"levels must be a whole number, got {levels!r}")
    temperature = _number(data.get("temperature", 0.2), "temperature")
    if not 0.01 <= temperature <= 2:
        raise ConfigError(f"temperature must be between 0.01 and 2, got {temperature:g}")
    if target == "which" and len(steps) + include_none < 2:
        raise ConfigError("nothing to tell apart: 'which' needs two outcomes (add a transformation or include 'none')")
    if target != "amount" and levels is not None:
        raise ConfigError("levels is for target 'amount' only")
    if target == "amount":
        if levels is not None:
            if not 2 <= levels <= MAX_LEVELS:
                raise ConfigError(f"levels must be between 2 and {MAX_LEVELS}, got {levels}")
            if len(steps) != 1:
                raise ConfigError("with levels, 'amount' predicts the level of exactly one transformation")
            step = steps[0]
            if step.transform.discrete and levels > step.high - step.low + 1:
                raise ConfigError(
                    f"{step.name} has only {int(step.high - step.low) + 1} whole amounts in its range, not {levels} levels"
                )
        for step in steps:
            if step.low == step.high:
                raise ConfigError(f"{step.name} range is a single value ({step.low:g}): there is no amount to predict")
    if target == "match":
        fixed = [s.name for s in steps if s.low == s.high and not s.transform.discrete]
        if len(fixed) == len(steps):
            raise ConfigError("for 'match', at least one transformation needs a range (else both views are identical)")
    return Definition(name, target, steps, levels, include_none, temperature)


FLIP_TASK = Definition("Predict the horizontal flip", "which", (Step("hflip", 1, 1),))
EXAMPLES = {  # starting points in the builder: one teaches colour, one shape, one invariance
    d.name: d
    for d in (
        FLIP_TASK,
        Definition("Predict the colour shift", "amount", (Step("hue", -0.375, 0.375),), levels=4),
        Definition("Predict the rotation", "amount", (Step("rotate", 0, 270),), levels=4),
        Definition("Match through colour and cut-outs", "match", (Step("hue", -0.5, 0.5), Step("cutout", 0.2, 0.5))),
    )
}


def encode_definition(definition: Definition) -> str:
    """URL-safe text for a link: base64 of the canonical JSON, without padding."""
    return base64.urlsafe_b64encode(definition.to_json().encode()).decode().rstrip("=")


def decode_definition(text: str) -> Definition:
    """The inverse of ``encode_definition``; anything malformed is a ConfigError, never a traceback."""
    text = str(text).strip()
    if not text or len(text) > MAX_DEFINITION_CHARS or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ConfigError("the custom task in the link is malformed (expected URL-safe base64 text)")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        raise ConfigError("the custom task in the link is malformed (not decodable)") from None
    return parse_definition(raw)


class CustomTask(PretextTask):
    """A task built from a Definition. Its class attributes describe the family; the instance, the design."""

    name = CUSTOM
    title = "Your own task"
    kind = "classification"
    summary = "A pretext task you design: transformations and what the network must predict about them."
    teaching = Teaching(
        predicts="Whatever you chose.",
        why="A task teaches what it takes to solve it.",
        shortcuts="Any low-level cue that gives the answer away.",
        guard="Design so that the answer needs the object.",
        paper="Your own design.",
    )

    @dataclass
    class Params:
        definition: str = param(FLIP_TASK.to_json(), "The task design as JSON (see sslcore/tasks/custom.py).")

    def __init__(self, params=None, **values):
        super().__init__(params, **values)
        self.definition = parse_definition(self.params.definition)
        d = self.definition
        self.title = d.name
        self.kind = "contrastive" if d.target == "match" else "regression" if self.regression else "classification"
        self.metric = "r2" if self.regression else "accuracy"
        self.metric_label = {
            "match": "contrastive accuracy (partner is the nearest view)",
            "amount": "R² of the predicted amounts" if self.regression else "pretext accuracy (level)",
        }.get(d.target, "pretext accuracy (which transformation)")
        self.summary = f"{d.name}: predict {TARGETS[d.target]} — " + ", ".join(
            f"{s.transform.title.lower()} {s.low:g}..{s.high:g}" for s in d.steps
        )
        self.teaching = self._teaching()

    @classmethod
    def from_definition(cls, definition: Definition) -> CustomTask:
        return cls(definition=definition.to_json())

    @property
    def regression(self) -> bool:
        return self.definition.target == "amount" and not self.definition.levels

    def chance(self, batch_size: int) -> float:
        """The pretext metric of a network that guesses: 1/classes, R² 0, or 1 in (2B - 1) partners."""
        if self.definition.target == "match":
            return 1 / max(1, 2 * batch_size - 1)
        return 0.0 if self.regression else 1 / len(self.definition.classes)

    def _teaching(self) -> Teaching:
        d = self.definition
        names = ", ".join(s.transform.title.lower() for s in d.steps)
        if d.target == "match":
            predicts = f"Which other view in the batch came from the same image, across random {names}."
            why = f"The network must ignore {names}: what is left to match on is what the views share."
        else:
            predicts = f"{TARGETS[d.target].capitalize()}: {', '.join(d.classes) or names}."
            why = f"To tell {names} apart the network must notice what {names} changes, so its features keep that."
        return Teaching(
            predicts=predicts,
            why=why,
            shortcuts="A cue that gives the answer without the object: borders from shifts and rotations, blur from "
            "interpolation, colour statistics for colour changes, symmetric objects for flips.",
            guard="Compare it with the built-ins on Results: the factor probes show what it kept (colour, shape, position).",
            paper="Your own design, in the spirit of Doersch & Zisserman, Multi-task Self-Supervised Visual Learning, "
            "ICCV 2017, and Dosovitskiy et al., Exemplar CNNs, NeurIPS 2014.",
        )

    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        x = as_float_images(images)
        d = self.definition
        if d.target == "match":
            both = torch.cat([x, x])
            views, amounts = self._apply_all(both, gen)
            return PretextBatch(views, None, x, {"amounts": amounts, "boxes": _whole_image(len(both), x.device)})
        if d.target == "which":
            n_classes = len(d.classes)
            labels = randint(gen, n_classes, (len(x),), x.device)
            inputs, amounts = x.clone(), torch.zeros(len(x), device=x.device)
            for i, step in enumerate(d.steps):
                label = i + d.include_none
                amount = step.transform.draw(gen, len(x), step.low, step.high, x.device)
                chosen = labels == label
                inputs = torch.where(chosen.view(-1, 1, 1, 1), step.transform.apply(x, amount, gen), inputs)
                amounts = torch.where(chosen, amount, amounts)
            return PretextBatch(inputs, labels, x, {"amounts": amounts.unsqueeze(1)})
        if d.levels:
            step = d.steps[0]
            labels = randint(gen, d.levels, (len(x),), x.device)
            amount = torch.tensor(d.level_amounts(), device=x.device)[labels]
            return PretextBatch(step.transform.apply(x, amount, gen), labels, x, {"amounts": amount.unsqueeze(1)})
        inputs, amounts = self._apply_all(x, gen)
        lows = torch.tensor([s.low for s in d.steps], device=x.device)
        highs = torch.tensor([s.high for s in d.steps], device=x.device)
        return PretextBatch(inputs, (amounts - lows) / (highs - lows), x, {"amounts": amounts})

    def _apply_all(self, x: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """Every step in order, each with its own random amount per image; returns images and (B, steps) amounts."""
        amounts = []
        for step in self.definition.steps:
            amount = step.transform.draw(gen, len(x), step.low, step.high, x.device)
            x = step.transform.apply(x, amount, gen)
            amounts.append(amount)
        return x, torch.stack(amounts, dim=1)

    def head(self, backbone, image_size):
        d = self.definition
        if d.target == "match":
            return MLP(backbone.feature_dim, 512, 128)
        return MLP(backbone.feature_dim, 256, len(d.steps) if self.regression else len(d.classes))

    def loss(self, out, batch):
        d = self.definition
        if d.target == "match":
            loss, acc = nt_xent(out, d.temperature)
            return loss, {"accuracy": acc}
        if self.regression:
            return regression_loss(out, batch.targets)
        return classification_loss(out, batch.targets)

    def explain(self, batch):
        d = self.definition
        if d.target == "match":
            items = explain_views(batch)
            n = len(batch)
            for i, item in enumerate(items):
                words = [", ".join(self._words(batch.extra["amounts"][j])) for j in (i, i + n)]
                item.label = f"{item.label}. View 1: {words[0]}; view 2: {words[1]}"
            return items
        items = []
        for i in range(len(batch)):
            amounts = batch.extra["amounts"][i]
            if d.target == "which":
                label = int(batch.targets[i])
                step = d.steps[label - d.include_none] if label >= d.include_none else None
                said = step.transform.describe(float(amounts[0])) if step else "nothing applied"
                text = f"{said} → class {label} ({d.classes[label]})"
            elif d.levels:
                text = (
                    f"{d.steps[0].transform.describe(float(amounts[0]))} → level {int(batch.targets[i])} of {d.levels}"
                )
            else:
                targets = ", ".join(f"{float(t):.2f}" for t in batch.targets[i])
                text = f"{', '.join(self._words(amounts))} → targets {targets} (0 = min, 1 = max of each range)"
            items.append(
                PreviewItem(
                    PreviewImage(batch.originals[i], "original"), [PreviewImage(batch.inputs[i], "network input")], text
                )
            )
        return items

    def _words(self, amounts: Tensor) -> list[str]:
        return [s.transform.describe(float(a)) for s, a in zip(self.definition.steps, amounts)]


def _whole_image(n: int, device) -> Tensor:
    """Crop boxes for views that are not crops: the whole image (so the views' preview needs no special case)."""
    return torch.tensor([[0.0, 0.0, 1.0, 1.0]], device=device).expand(n, 4)

