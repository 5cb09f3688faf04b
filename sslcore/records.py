"""The two records a run leaves for the pages, typed: its progress events and its results.

The worker stores both as JSON (progress in the store's ``events`` table and ``runs.progress``, results in
``runs.results`` and the run folder's ``results.json``); the pages read them. These dataclasses name every
field a reader may use, so a page writes ``progress.loss`` instead of ``event["loss"]`` and a renamed
field fails in one place. The JSON stays what it was: ``from_dict`` accepts any record ever written (runs
from before a field existed read it as None), and ``to_dict`` gives back exactly the dict it was made from,
keys it does not know included (``extra``), so old stores and run folders load, and a record passed
through these types is written back unchanged.

Stdlib only, and below every other layer: the training loop writes these records, the store and the dispatcher
read them, all without importing torch for them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar


class _Record:
    """from_dict / to_dict for a flat dataclass whose last field is ``extra`` (the keys it does not name).

    A known key whose value is None stays in ``extra`` too, so a dict with an explicit null comes back with it,
    and one without the key comes back without it.
    """

    _nested: ClassVar[dict[str, Any]] = {}  # field -> how to type one value (or each item of a list)

    @classmethod
    def _known(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "extra")

    @classmethod
    def from_dict(cls, values: dict | None):
        values = values or {}
        known = cls._known()
        kwargs = {k: values[k] for k in known if values.get(k) is not None}
        for name, kind in cls._nested.items():
            if name in kwargs:
                raw = kwargs[name]
                kwargs[name] = [kind.from_dict(v) for v in raw] if isinstance(raw, list) else kind.from_dict(raw)
        extra = {k: v for k, v in values.items() if k not in known or v is None}
        return cls(**kwargs, extra=extra)

    @classmethod
    def named(cls, values: dict) -> dict:
        """``values`` unchanged, once every key is checked to be a field of this record: the writer's side of
        the type. The trainer builds its events and the experiment its results through this, so a misspelt
        or new field fails where it is written, not on a page that reads None."""
        unnamed = sorted(set(values) - set(cls._known()))
        if unnamed:
            raise TypeError(f"{cls.__name__} has no field {', '.join(unnamed)} (sslcore/records.py)")
        return values

    @property
    def unknown(self) -> dict:
        """The keys of the JSON this record has no field for (kept in ``extra``, written back unchanged)."""
        known = self._known()
        return {k: v for k, v in self.extra.items() if k not in known}

    def to_dict(self) -> dict:
        out = {}
        for name in self._known():
            value = getattr(self, name)
            if value is None:
                continue
            if name in self._nested:
                value = [v.to_dict() for v in value] if isinstance(value, list) else value.to_dict()
            out[name] = value
        return {**out, **self.extra}


@dataclass(frozen=True)
class Progress(_Record):
    """One progress event: what ``Trainer.events`` yields, the worker stores, the live queue and Train's charts read.

    ``kind`` says which fields it carries: "start" (device, task, train_images, test_images, planned_steps,
    budget, ...), "step" (step, epoch, loss, metric, lr, images_per_s, elapsed, flops, eta, progress),
    "probe" (step, elapsed, flops, knn), "evaluating" (none), "end" (status, steps, elapsed,
    under_budget); a fine-tune's also ``draw`` / ``draws``; events read back from the store also carry ``seq`` and ``time``.
    """

    kind: str = "?"
    step: int | None = None
    epoch: float | None = None
    loss: float | None = None
    metric: float | None = None  # the task's own pretext metric (accuracy, PSNR, ...)
    lr: float | None = None
    images_per_s: float | None = None  # examples per second (sentences for text runs)
    elapsed: float | None = None  # training seconds so far
    flops: float | None = None
    eta: float | None = None  # seconds left
    progress: float | None = None  # fraction of the budget used, 0..1
    knn: float | None = None  # probe events: downstream kNN accuracy on the held-out subset
    device: str | None = None
    task: str | None = None
    train_images: int | None = None
    test_images: int | None = None
    steps_per_epoch: int | None = None
    budget: str | None = None
    planned_steps: int | None = None
    step_flops: float | None = None
    status: str | None = None
    steps: int | None = None
    under_budget: bool | None = None
    draw: int | None = None  # a fine-tune's step events: which label draw is training (0, 1, ...)
    draws: int | None = None  # a fine-tune's start and end events: how many draws the run trains
    seq: int | None = None  # the store's sequence number
    time: float | None = None  # when the store took it
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProbePoint(_Record):
    """One point of a run's downstream curve: kNN accuracy after ``step`` steps, ``elapsed`` training seconds."""

    step: int | None = None
    elapsed: float | None = None
    flops: float | None = None
    knn: float | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Baseline(_Record):
    """The random-init reference every result carries: the same network untrained, evaluated the same way."""

    linear_probe: float | None = None
    knn: float | None = None
    label_curve: dict | None = None
    factors: dict | None = None
    raw_pixels: dict | None = None  # the second reference: a read-out of the pixels themselves (images)
    stages: list[dict] | None = None  # the linear probe per backbone stage, as ``RunResults.stages``
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunResults(_Record):
    """What ``run_experiment`` records for a finished run (``results.json`` and the store's ``runs.results``).

    Accuracies are fractions (0..1). ``label_curve``, ``factors``, ``finetune``, ``timings`` and ``config``
    stay plain dicts: ``sslcore.learned`` / ``sslcore.context`` read them, and ``TrainConfig.from_dict``
    types the config.
    """

    status: str | None = None  # "finished" (or "cancelled" for a run stopped before its evaluation)
    task: str | None = None
    dataset: str | None = None
    device: str | None = None
    train_images: int | None = None
    test_images: int | None = None
    num_classes: int | None = None
    budget: str | None = None  # "compute", "epochs" or "time"
    planned_steps: int | None = None
    steps: int | None = None
    images_seen: int | None = None
    flops: float | None = None
    step_flops: float | None = None
    wall_s: float | None = None  # training seconds, probes excluded
    under_budget: bool | None = None  # stopped by the wall-clock safety cap before its compute was spent
    precision: str | None = None  # "fp32" or "bf16" (runs from before bf16 on CPUs: None, which was fp32 there)
    train_seconds: float | None = None  # the old name of wall_s (runs from before compute budgets have only this)
    probe_curve: list[ProbePoint] | None = None
    eval_view: str | None = None  # the input its features were evaluated on ("image", "grey"); None: older runs, images
    config: dict | None = None
    pretext_metric: float | None = None
    metric_label: str | None = None
    linear_probe: float | None = None
    knn: float | None = None
    confusion: list[list[int]] | None = None  # the linear probe's test predictions: row = true, column = predicted
    loss_trend: str | None = None  # "diverged", "rose" or None
    baseline: Baseline | None = None
    class_names: list[str] | None = None
    label_curve: dict | None = None
    factors: dict | None = None
    finetune: dict | None = None
    # the linear probe on each backbone stage's pooled output, in forward order: [{"stage", "dim", "linear_probe"}]
    stages: list[dict] | None = None
    timings: dict | None = None
    extra: dict = field(default_factory=dict)

    _nested: ClassVar[dict[str, Any]] = {"probe_curve": ProbePoint, "baseline": Baseline}

    @property
    def seconds(self) -> float:
        """Training seconds under either name (``wall_s``, or ``train_seconds`` of older runs)."""
        return self.wall_s if self.wall_s is not None else self.train_seconds or 0.0

    @property
    def max_seconds(self) -> float | None:
        """The wall-clock safety cap the run was given, from its config."""
        return (self.config or {}).get("max_seconds")
