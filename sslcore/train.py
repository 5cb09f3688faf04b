"""One training loop for every task: time- or epoch-budgeted, seeded, cancellable, yielding progress.

``Trainer(config).events(should_stop)`` yields plain-dict events (JSON-ready, for the CLI's progress bar
and the run store). Every few seconds of training it measures a cheap downstream signal (kNN accuracy on
a held-out labelled subset), so each run has a curve of downstream accuracy against time. Probe time is
not charged to the budget: every task gets the same training time.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from sslcore.data import DEFAULT_SEQ_LEN, ImageDataset, TextDataset, dataset_modality, load_dataset
from sslcore.errors import ConfigError, PretextLabError
from sslcore.evaluate import extract_features, knn_accuracy, split_indices
from sslcore.models import BACKBONES, DEFAULT_BACKBONE, backbone_modality, make_backbone
from sslcore.tasks import TASKS, get_task, make_params
from sslcore.tasks.custom import CUSTOM, CustomTask
from sslcore.tasks.supervised import Supervised

RANDOM_INIT = "random_init"
SUPERVISED = "supervised"
RUN_KINDS = (*TASKS, CUSTOM, SUPERVISED, RANDOM_INIT)
OPTIMIZERS = {"adamw": (2e-3, 0.05), "sgd": (0.05, 5e-4)}  # default (lr, weight decay)
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_BATCH = 4096
MAX_BUDGET_S = 24 * 3600
MAX_SEED = 2**31 - 1  # what every RNG here accepts (NumPy's legacy seeding stops at 2**32 - 1)


class TrainingError(PretextLabError):
    """A run that cannot go on (NaN loss, out of memory...), with what to change."""


@dataclass
class TrainConfig:
    """Everything that defines a run. Unset lr / weight_decay take the optimizer's defaults.

    An unset dataset is the default for the task's modality (shapes for image tasks, the bundled corpus for
    text tasks), an unset backbone the default for the dataset's (small CNN, or the small Transformer).
    """

    task: str = "rotation"
    dataset: str | None = None
    budget: float | None = 60.0  # seconds of training; None when ``epochs`` is given
    epochs: float | None = None
    n: int | None = None  # dataset size (shapes are generated; others keep the first n)
    image_size: int = 32
    seq_len: int = DEFAULT_SEQ_LEN  # tokens per sentence (text datasets)
    backbone: str | None = None
    batch_size: int = 256
    optimizer: str = "adamw"
    lr: float | None = None
    weight_decay: float | None = None
    warmup: float = 0.05  # fraction of the run spent warming the learning rate up
    device: str = "auto"
    seed: int = 0
    params: dict = field(default_factory=dict)
    probe_every: float = 5.0  # seconds of training between downstream kNN probes
    probe_size: int = 1000  # labelled train images in the probe's memory bank (half as many queries)
    test_fraction: float = 0.25

    def __post_init__(self):
        if self.dataset is None:
            self.dataset = "corpus" if task_modality(self.task) == "text" else "shapes"
        if self.backbone is None:
            self.backbone = DEFAULT_BACKBONE[dataset_modality(self.dataset)]

    @property
    def modality(self) -> str:
        return dataset_modality(self.dataset)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> TrainConfig:
        """Raise ConfigError, naming the setting, for anything that cannot work. Returns self."""
        if self.task not in RUN_KINDS:
            raise ConfigError(f"unknown task {self.task!r}; available: {', '.join(RUN_KINDS)}")
        if self.epochs is None and self.budget is None:
            raise ConfigError("give a time budget (seconds) or a number of epochs")
        if self.budget is not None and not 0 < self.budget <= MAX_BUDGET_S:
            raise ConfigError(f"budget must be more than 0 and at most {MAX_BUDGET_S} seconds, got {self.budget}")
        if self.epochs is not None and not 0 < self.epochs <= 10_000:
            raise ConfigError(f"epochs must be more than 0 and at most 10000, got {self.epochs}")
        if not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be a whole number from 0 to {MAX_SEED}, got {self.seed}")
        if not 2 <= self.batch_size <= MAX_BATCH:
            raise ConfigError(f"batch size must be between 2 and {MAX_BATCH}, got {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.lr is not None and not 0 < self.lr <= 10:
            raise ConfigError(f"learning rate must be in (0, 10], got {self.lr}")
        if self.weight_decay is not None and not 0 <= self.weight_decay <= 1:
            raise ConfigError(f"weight decay must be in [0, 1], got {self.weight_decay}")
        if not 0 <= self.warmup < 1:
            raise ConfigError(f"warmup is a fraction of the run in [0, 1), got {self.warmup}")
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.backbone not in BACKBONES:
            raise ConfigError(f"unknown backbone {self.backbone!r}; choose from {', '.join(BACKBONES)}")
        if not 16 <= self.image_size <= 256:
            raise ConfigError(f"image size must be between 16 and 256 pixels, got {self.image_size}")
        if not 8 <= self.seq_len <= 256:
            raise ConfigError(f"sequence length must be between 8 and 256 tokens, got {self.seq_len}")
        task_kind = task_modality(self.task)
        if task_kind not in ("any", self.modality):
            other = "a text task: use the corpus or a .txt/.csv" if task_kind == "text" else "an image task"
            raise ConfigError(f"{self.task} is {other}, but dataset {self.dataset!r} is {self.modality}")
        if backbone_modality(self.backbone) != self.modality:
            raise ConfigError(
                f"backbone {self.backbone!r} does not read {self.modality}; use {DEFAULT_BACKBONE[self.modality]!r}"
            )
        if self.n is not None and not 20 <= self.n <= 200_000:
            raise ConfigError(f"dataset size n must be between 20 and 200000, got {self.n}")
        if not 0.05 <= self.test_fraction <= 0.5:
            raise ConfigError(f"test fraction must be between 0.05 and 0.5, got {self.test_fraction}")
        if self.probe_every <= 0 or self.probe_size < 10:
            raise ConfigError("probe_every must be positive and probe_size at least 10")
        objective = make_objective(self, num_classes=2)
        if objective is not None and self.modality == "image":
            objective.check(self.image_size)
        return self


def task_modality(task: str) -> str:
    """ "image" or "text" for pretext tasks; "any" for the supervised reference and random init."""
    if task == CUSTOM:
        return CustomTask.modality
    return TASKS[task].modality if task in TASKS else "any"


def make_objective(config: TrainConfig, num_classes: int):
    """The task object a run trains (None for the untrained random-init baseline)."""
    if config.task == RANDOM_INIT:
        if config.params:
            raise ConfigError("random_init takes no parameters")
        return None
    if config.task == SUPERVISED:
        return Supervised(make_params(Supervised.Params, config.params), num_classes=num_classes)
    return get_task(config.task, config.params)


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; a forced device that is missing is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for, but no CUDA GPU is available here; use --device auto or cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device mps was asked for, but Apple's MPS is not available here")
    if name not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {name!r}")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)})"
    return "Apple GPU (MPS)" if device.type == "mps" else "CPU"


def lr_factor(progress: float, warmup: float) -> float:
    """Linear warm-up, then cosine decay to zero, as a function of the fraction of the run done."""
    if progress < warmup:
        return (progress + 1e-3) / warmup
    rest = (progress - warmup) / max(1e-8, 1 - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, rest)))


def load_run_data(config: TrainConfig, data: ImageDataset | TextDataset | None = None):
    if data is None:
        data = load_dataset(config.dataset, n=config.n, size=config.image_size, seed=config.seed, seq_len=config.seq_len)
    if not data.labelled or len(data.class_names) < 2:
        how = "a CSV with text and label columns" if data.modality == "text" else "a zip with one folder per class"
        raise ConfigError(
            f"dataset {data.name!r} has no labels (or one class): runs are evaluated by how well their features "
            f"predict the classes. Use a built-in dataset or {how}."
        )
    if data.modality == "image" and data.image_size != config.image_size:
        raise ConfigError(f"dataset images are {data.image_size}px but the run asks for {config.image_size}px")
    if len(data) < 20:
        unit = "sentences" if data.modality == "text" else "images"
        raise ConfigError(f"dataset {data.name!r} has only {len(data)} {unit}; a run needs at least 20")
    return data


def build_backbone(name: str, data):
    """A fresh backbone for this dataset: text backbones get the tokenizer's vocabulary and room for pairs."""
    if data.modality == "text":
        return make_backbone(name, vocab_size=len(data.tokenizer), max_len=2 * data.seq_len)
    return make_backbone(name).to(memory_format=torch.channels_last)


def train_step(task, backbone, head, optimizer, images, labels, gen, autocast) -> tuple[float, dict]:
    """One optimisation step: make the pretext batch, forward, loss, backward, update.

    Returns the loss as a float and the task's metrics. A non-finite loss skips the update, so the
    caller can stop with a message before the weights are ruined.
    """
    batch = task.prepare(images, gen)
    if task.needs_labels:
        batch.targets = labels
    with autocast:
        out = task.forward(backbone, head, batch)
        loss, metrics = task.loss(out, batch)
    value = loss.item()
    if math.isfinite(value):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return value, metrics


class Trainer:
    """Holds one run's data, model and history; ``events()`` trains it."""

    def __init__(self, config: TrainConfig, data: ImageDataset | TextDataset | None = None):
        self.config = config.validate()
        self.device = resolve_device(config.device)
        self.data = load_run_data(config, data)
        self.train_idx, self.test_idx = split_indices(self.data.labels, config.seed, config.test_fraction)
        torch.manual_seed(config.seed)
        self.backbone = build_backbone(config.backbone, self.data).to(self.device)
        self.task = make_objective(config, len(self.data.class_names))
        if self.task is not None:
            self.task.setup(self.data)
        self.head = self.task.head(self.backbone, config.image_size).to(self.device) if self.task else None
        self.history: list[dict] = []  # step events (throttled by the consumer if needed)
        self.probes: list[dict] = []  # {"elapsed", "step", "knn"}
        self.status = "created"
        self.train_seconds = 0.0
        self.steps = 0

    # -- the downstream signal during training ------------------------------------------------------
    def _probe_sets(self):
        gen = torch.Generator().manual_seed(self.config.seed + 1)
        bank = self.train_idx[torch.randperm(len(self.train_idx), generator=gen)[: self.config.probe_size]]
        queries = self.test_idx[torch.randperm(len(self.test_idx), generator=gen)[: self.config.probe_size // 2]]
        return bank, queries

    def probe(self) -> dict:
        """kNN accuracy of the current backbone on a fixed held-out subset: cheap enough to run often."""
        bank, queries = self._probe_sets()
        feats = extract_features(self.backbone, self.data.inputs[torch.cat([bank, queries])], self.device)
        labels = self.data.labels
        acc = knn_accuracy(feats[: len(bank)], labels[bank], feats[len(bank) :], labels[queries])
        event = {"kind": "probe", "step": self.steps, "elapsed": round(self.train_seconds, 3), "knn": acc}
        self.probes.append(event)
        return event

    # -- training -----------------------------------------------------------------------------------
    def events(self, should_stop: Callable[[], bool] | None = None) -> Iterator[dict]:
        """Train, yielding a 'start' event, 'step' and 'probe' events, then an 'end' event.

        ``should_stop`` is checked before every step: cancelling takes effect within one step.
        """
        cfg, device = self.config, self.device
        should_stop = should_stop or (lambda: False)
        n_train = len(self.train_idx)
        batch_size = min(cfg.batch_size, n_train)
        steps_per_epoch = n_train // batch_size
        total_steps = math.ceil(cfg.epochs * steps_per_epoch) if cfg.epochs is not None else None
        yield {
            "kind": "start",
            "device": device_name(device),
            "task": cfg.task,
            "train_images": n_train,
            "test_images": len(self.test_idx),
            "steps_per_epoch": steps_per_epoch,
        }
        self.status = "running"
        yield self.probe()
        if self.task is None:  # random init: nothing to train
            self.status = "finished"
            yield {"kind": "end", "status": self.status, "steps": 0, "elapsed": 0.0}
            return

        lr0, wd = OPTIMIZERS[cfg.optimizer]
        lr0 = cfg.lr if cfg.lr is not None else lr0
        wd = cfg.weight_decay if cfg.weight_decay is not None else wd
        params = [*self.backbone.parameters(), *self.head.parameters()]
        if cfg.optimizer == "sgd":
            optimizer = torch.optim.SGD(params, lr=lr0, momentum=0.9, weight_decay=wd, nesterov=True)
        else:
            optimizer = torch.optim.AdamW(params, lr=lr0, weight_decay=wd)
        images = self.data.inputs[self.train_idx].to(device)
        labels = self.data.labels[self.train_idx].to(device)
        gen = torch.Generator().manual_seed(cfg.seed)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
        self.backbone.train()
        self.head.train()
        next_probe, rate = cfg.probe_every, None

        def progress() -> float:
            if total_steps is not None:
                return self.steps / total_steps
            return self.train_seconds / cfg.budget

        while progress() < 1:
            order = torch.randperm(n_train, generator=gen).to(device)
            for start in range(0, n_train - batch_size + 1, batch_size):  # drop the ragged last batch
                if should_stop():
                    self.status = "cancelled"
                    yield {"kind": "end", "status": "cancelled", "steps": self.steps, "elapsed": self.train_seconds}
                    return
                if progress() >= 1:
                    break
                tick = time.perf_counter()
                idx = order[start : start + batch_size]
                for group in optimizer.param_groups:
                    group["lr"] = lr0 * lr_factor(progress(), cfg.warmup)
                try:
                    loss, metrics = train_step(
                        self.task, self.backbone, self.head, optimizer, images[idx], labels[idx], gen, autocast
                    )
                except torch.OutOfMemoryError:
                    raise TrainingError(
                        f"out of memory on {device_name(device)} at batch size {batch_size}: "
                        "lower the batch size or the image size"
                    ) from None
                if not math.isfinite(loss):
                    raise TrainingError(
                        f"the loss became {loss} at step {self.steps + 1}: training diverged. "
                        f"Lower the learning rate (now {lr0:g})."
                    )
                seconds = time.perf_counter() - tick
                self.train_seconds += seconds
                self.steps += 1
                speed = len(idx) / max(seconds, 1e-9)
                rate = speed if rate is None else 0.9 * rate + 0.1 * speed
                done = min(1.0, progress())
                eta = (
                    max(0.0, cfg.budget - self.train_seconds)
                    if total_steps is None
                    else (total_steps - self.steps) * batch_size / rate
                )
                event = {
                    "kind": "step",
                    "step": self.steps,
                    "epoch": self.steps / steps_per_epoch,
                    "loss": loss,
                    "metric": metrics[self.task.metric],
                    "lr": optimizer.param_groups[0]["lr"],
                    "images_per_s": rate,
                    "elapsed": self.train_seconds,
                    "eta": eta,
                    "progress": done,
                }
                self.history.append(event)
                yield event
                if self.train_seconds >= next_probe and done < 1:
                    next_probe = self.train_seconds + cfg.probe_every
                    yield self.probe()
                    self.backbone.train()
        yield self.probe()
        self.status = "finished"
        yield {"kind": "end", "status": "finished", "steps": self.steps, "elapsed": self.train_seconds}

    def final_metric(self) -> float | None:
        """The pretext metric averaged over the last tenth of the steps (single steps are noisy)."""
        if not self.history:
            return None
        tail = self.history[-max(1, len(self.history) // 10) :]
        return sum(e["metric"] for e in tail) / len(tail)
