"""One training loop for every task: budgeted in compute, epochs or seconds, seeded, cancellable, yielding progress.

``Trainer(config).events(should_stop)`` yields plain-dict events (JSON-ready, for the CLI's progress bar
and the run store). The budget (``sslcore.budget``) decides how many steps a run takes; a compute budget
is a number of steps fixed before the first one, so a busy machine changes how long a run takes, not what
it learns. At fixed points of the run it measures a cheap downstream signal (kNN accuracy on a held-out
labelled subset), so each run has a curve of downstream accuracy; probe time is not charged to the budget.

On a GPU the loop never waits for the device between steps: losses and metrics stay on the device and are
read when progress is reported, the training set stays on the device, and training time comes from
device events.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from sslcore.augment import to_device
from sslcore.budget import Budget, StepClock
from sslcore.data import DEFAULT_SEQ_LEN, ImageDataset, TextDataset, dataset_modality, load_dataset
from sslcore.device import DEVICES, device_name, resolve_device
from sslcore.errors import ConfigError, TrainingError
from sslcore.evaluate import extract_features, fit_probe, knn_accuracy, split_indices
from sslcore.fewlabel import draw_per_class, draw_seed
from sslcore.flops import count_step_flops, step_flops, step_key
from sslcore.ids import is_id
from sslcore.kinds import FINETUNE, RANDOM_INIT, SUPERVISED  # noqa: F401 - re-exported: pages and tests import them here
from sslcore.limits import MAX_SEED
from sslcore.menus import DEFAULT_DATASET
from sslcore.models import BACKBONES, DEFAULT_BACKBONE, backbone_modality, check_backbone_args, make_backbone
from sslcore.precision import PRECISIONS, autocast, resolve_precision
from sslcore.records import Progress
from sslcore.tasks import EVAL_VIEWS, RUN_KINDS, TASKS, run_modality, run_objective, run_view, view_inputs

OPTIMIZERS = {"adamw": (2e-3, 0.05), "sgd": (0.05, 5e-4)}  # default (lr, weight decay)
MAX_BATCH = 4096
MAX_BUDGET_S = 24 * 3600
MAX_COMPUTE = 1e18  # FLOPs: about a day of a current datacenter GPU
REPORT_S = 0.5  # on a GPU, progress (and with it the one device sync) at most this often


@dataclass
class TrainConfig:
    """Everything that defines a run. Unset lr / weight_decay take the optimizer's defaults.

    An unset dataset is the default for the task's modality (shapes for image tasks, the bundled corpus for
    text tasks), an unset backbone the default for the dataset's (small CNN, or the small Transformer).
    """

    task: str = "rotation"
    dataset: str | None = None
    budget: float | None = 60.0  # seconds of training; None when ``compute`` or ``epochs`` is given
    epochs: float | None = None
    compute: float | None = None  # FLOPs of training (each task's own step, counted): comparisons use this
    max_seconds: float | None = None  # wall-clock safety cap of a compute or epoch budget
    n: int | None = None  # dataset size (shapes are generated; others keep the first n)
    image_size: int = 32
    seq_len: int = DEFAULT_SEQ_LEN  # tokens per sentence (text datasets)
    backbone: str | None = None
    backbone_args: dict = field(default_factory=dict)  # the backbone's constructor arguments ({}: its defaults)
    batch_size: int = 256
    optimizer: str = "adamw"
    lr: float | None = None
    weight_decay: float | None = None
    warmup: float = 0.05  # fraction of the run spent warming the learning rate up
    device: str = "auto"
    seed: int = 0
    params: dict = field(default_factory=dict)
    probe_every: float = 5.0  # seconds of training between downstream kNN probes (time budgets)
    probe_points: int = 8  # a compute or epoch budget is probed at 1/k, 2/k, ... of the run (0: start and end only)
    probe_size: int = 1000  # labelled train images in the probe's memory bank (half as many queries)
    test_fraction: float = 0.25
    init_from: str | None = None  # a finished run's id: start from its backbone (fine-tuning)
    labels_per_class: int | None = None  # train on k labelled examples per class (None: the whole train split)
    backbone_lr_scale: float = 1.0  # the backbone's learning rate relative to the head's
    precision: str = "auto"  # "auto" (bf16 where native: CUDA, CPUs with avx512_bf16/AMX), "fp32" or "bf16"
    eval_view: str | None = None  # what it is evaluated (and a fine-tune trained) on; None: its task's own view
    max_steps: int | None = None  # an epoch budget's cap in steps (fine-tunes: epochs over k labels, capped)
    freeze_bn: bool = False  # fine-tunes: BatchNorm layers keep their running statistics (eval mode) while training
    head_from_probe: bool = False  # fine-tunes: the head starts as the linear probe fitted on the labels (LP-FT)
    draws: int = 1  # fine-tunes: label draws trained and scored, the label curve's draws 0..draws-1 (others: unused)

    def __post_init__(self):
        if self.dataset is None:
            self.dataset = DEFAULT_DATASET["text" if run_modality(self.task) == "text" else "image"]
        if self.backbone is None:
            self.backbone = DEFAULT_BACKBONE[dataset_modality(self.dataset)]
        if self.backbone_args is None:
            self.backbone_args = {}
        if self.compute is not None or self.epochs is not None:
            self.budget = None  # one amount per run: compute, else epochs, else seconds

    @property
    def modality(self) -> str:
        return dataset_modality(self.dataset)

    @property
    def view(self) -> str:
        """The evaluation view (``EVAL_VIEWS``): ``eval_view``, else the task's own (colorization: grey)."""
        return self.eval_view or run_view(self.task)

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
        if self.epochs is None and self.budget is None and self.compute is None:
            raise ConfigError("give a compute budget (FLOPs), a number of epochs or a time budget (seconds)")
        if self.compute is not None and not 0 < self.compute <= MAX_COMPUTE:
            raise ConfigError(f"compute must be more than 0 and at most {MAX_COMPUTE:.0e} FLOPs, got {self.compute:g}")
        if self.max_seconds is not None and not 0 < self.max_seconds <= MAX_BUDGET_S:
            raise ConfigError(f"max_seconds must be more than 0 and at most {MAX_BUDGET_S}, got {self.max_seconds}")
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
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.backbone not in BACKBONES:
            raise ConfigError(f"unknown backbone {self.backbone!r}; choose from {', '.join(BACKBONES)}")
        if not 16 <= self.image_size <= 256:
            raise ConfigError(f"image size must be between 16 and 256 pixels, got {self.image_size}")
        if not 8 <= self.seq_len <= 256:
            raise ConfigError(f"sequence length must be between 8 and 256 tokens, got {self.seq_len}")
        task_kind = run_modality(self.task)
        if task_kind not in ("any", self.modality):
            other = "a text task: use the corpus or a .txt/.csv" if task_kind == "text" else "an image task"
            raise ConfigError(f"{self.task} is {other}, but dataset {self.dataset!r} is {self.modality}")
        if backbone_modality(self.backbone) != self.modality:
            raise ConfigError(
                f"backbone {self.backbone!r} does not read {self.modality}; use {DEFAULT_BACKBONE[self.modality]!r}"
            )
        check_backbone_args(self.backbone, self.backbone_args)
        if self.n is not None and not 20 <= self.n <= 200_000:
            raise ConfigError(f"dataset size n must be between 20 and 200000, got {self.n}")
        if not 0.05 <= self.test_fraction <= 0.5:
            raise ConfigError(f"test fraction must be between 0.05 and 0.5, got {self.test_fraction}")
        if self.probe_every <= 0 or self.probe_size < 10 or not 0 <= self.probe_points <= 100:
            raise ConfigError("probe_every must be positive, probe_size at least 10, probe_points 0 to 100")
        if self.init_from is not None and (self.task != FINETUNE or not is_id(self.init_from)):
            raise ConfigError(f"init_from is for finetune runs and must be a run id (12 hex digits), got {self.init_from!r}")
        if self.labels_per_class is not None:
            if self.task not in (SUPERVISED, FINETUNE):
                raise ConfigError("labels per class limits the labels of supervised and finetune runs only")
            if not isinstance(self.labels_per_class, int) or not 1 <= self.labels_per_class <= 100_000:
                raise ConfigError(f"labels per class must be a whole number from 1 to 100000, got {self.labels_per_class!r}")
        if not 0 <= self.backbone_lr_scale <= 1:
            raise ConfigError(f"backbone_lr_scale must be in [0, 1], got {self.backbone_lr_scale}")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise ConfigError(f"max_steps must be a whole number of at least 1, got {self.max_steps!r}")
        if not isinstance(self.draws, int) or not 1 <= self.draws <= 10:
            raise ConfigError(f"draws must be a whole number from 1 to 10, got {self.draws!r}")
        if self.eval_view is not None:
            if self.eval_view not in EVAL_VIEWS:
                raise ConfigError(f"eval_view must be one of {', '.join(EVAL_VIEWS)}, got {self.eval_view!r}")
            if self.eval_view != "image" and self.modality != "image":
                raise ConfigError(f"eval_view {self.eval_view!r} is a view of images; {self.dataset!r} is text")
            if self.task in TASKS and self.eval_view != run_view(self.task):
                raise ConfigError(f"{self.task} is evaluated on its own input ({run_view(self.task)}), not {self.eval_view}")
        objective = make_objective(self, num_classes=2)
        if objective is not None and self.modality == "image":
            objective.check(self.image_size)
        return self


def make_objective(config: TrainConfig, num_classes: int):
    """The task object a run trains (None for the untrained random-init baseline), from the registry."""
    return run_objective(config.task, config.params, num_classes)


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


def objective_inputs(config: TrainConfig, task, inputs):
    """What a run's objective reads of these dataset inputs: the inputs themselves when the objective makes
    the run's view itself (colorization turns images into lightness in ``make_batch``; most runs see images),
    else the view (a fine-tune of a colorization run trains and predicts on grey images)."""
    own = task.eval_view if task is not None else "image"
    return inputs if own == config.view else view_inputs(config.view, inputs)


def build_backbone(name: str, data, args: dict | None = None):
    """A fresh backbone for this dataset, from the run's ``backbone_args``: text backbones also get the
    tokenizer's vocabulary and room for sentence pairs (the arguments the dataset sets)."""
    args = dict(args or {})
    if data.modality == "text":
        return make_backbone(name, **args, vocab_size=len(data.tokenizer), max_len=2 * data.seq_len)
    return make_backbone(name, **args).to(memory_format=torch.channels_last)


def train_step(task, backbone, head, optimizer, images, labels, gen, autocast, check_finite: bool = True):
    """One optimisation step: make the pretext batch, forward, loss, backward, update.

    Returns the loss and the task's metrics as 0-dim tensors on the device. With ``check_finite`` (free on
    the CPU, a device sync on a GPU) a non-finite loss skips the update, so the caller can stop with a
    message before the weights are ruined; without it the caller checks when it next reads the loss.
    """
    batch = task.prepare(images, gen)
    if task.needs_labels:
        batch.targets = labels
    with autocast:
        out = task.forward(backbone, head, batch)
        loss, metrics = task.loss(out, batch)
    if check_finite and not math.isfinite(loss.item()):
        return loss.detach(), metrics
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), metrics


class Tally:
    """Loss and metric summed on the device between progress reports: read (one sync) only when reported."""

    def __init__(self):
        self.loss, self.metric, self.steps, self.images = 0.0, 0.0, 0, 0

    def add(self, loss, metric, images: int) -> None:
        self.loss = self.loss + loss
        self.metric = self.metric + metric
        self.steps += 1
        self.images += images

    def read(self) -> tuple[float, float, int, int]:
        out = (float(self.loss) / self.steps, float(self.metric) / self.steps, self.steps, self.images)
        self.__init__()
        return out


class Trainer:
    """Holds one run's data, model and history; ``events()`` trains it.

    The pieces are methods so a new kind of run changes one of them: ``build_model`` (weights and head),
    ``make_optimizer`` (parameter groups, each with its own ``base_lr``), ``plan_budget`` (what it spends).
    """

    def __init__(
        self,
        config: TrainConfig,
        data: ImageDataset | TextDataset | None = None,
        cache_dir=None,
        init_state: dict | None = None,
        draw: int = 0,
    ):
        """``init_state``: backbone weights to start from (a fine-tune's source run); required with init_from.
        ``draw``: which of the label curve's draws of k labels per class it trains on (``fewlabel.draw_seed``)."""
        self.config = config.validate()
        self.device = resolve_device(config.device)
        self.data = load_run_data(config, data)
        self.train_idx, self.test_idx = split_indices(self.data.labels, config.seed, config.test_fraction)
        self.draw = draw
        self.fit_idx = self.train_idx  # the examples whose labels training may use
        if config.labels_per_class is not None:
            k, key = config.labels_per_class, draw_seed(config.seed, draw)
            self.fit_idx = draw_per_class(self.data.labels, self.train_idx, k, key, self.data.class_names)
        if (init_state is None) != (config.init_from is None):
            raise ConfigError("a fine-tune needs its source run's weights (init_from and init_state go together)")
        self.init_state = init_state
        self.cache_dir = cache_dir  # where counted step FLOPs are kept (None: this process only)
        self.precision = resolve_precision(config.precision, self.device)  # what the run records
        self.autocast = autocast(self.precision, self.device)
        self.sync_free = self.device.type == "cpu"  # reading a CPU tensor costs nothing: report every step
        self.start_probe: dict | None = None  # a fine-tune: the frozen probe on this draw (LP-FT's head starts as it)
        self.probing = config.task != FINETUNE  # kNN probes while training; a fine-tune is judged by its head after
        self._eval_inputs = None
        self.backbone, self.task, self.head = self.build_model()
        self.history: list[dict] = []  # step events (throttled by the consumer if needed)
        self.probes: list[dict] = []  # {"elapsed", "step", "flops", "knn"}
        self.status = "created"
        self.train_seconds = 0.0
        self.steps = 0
        self.under_budget = False  # stopped by the wall-clock cap before its compute was spent
        self._probe_inputs = None
        self.budget: Budget = self.plan_budget()

    # -- setup -----------------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return min(self.config.batch_size, len(self.fit_idx))

    def build_model(self):
        """(backbone, task, head), seeded: the same seed gives the same initial weights."""
        cfg = self.config
        torch.manual_seed(cfg.seed)
        backbone = build_backbone(cfg.backbone, self.data, cfg.backbone_args).to(self.device)
        if self.init_state is not None:
            try:
                backbone.load_state_dict(self.init_state)
            except RuntimeError:
                raise ConfigError(
                    f"the weights of run {cfg.init_from} do not fit a {cfg.backbone} for this dataset"
                ) from None
        task = make_objective(cfg, len(self.data.class_names))
        if task is not None:
            task.setup(self.data)
        head = task.head(backbone, cfg.image_size).to(self.device) if task else None
        if self.init_state is not None and cfg.task == FINETUNE:
            self.start_probe = self.fit_start_probe(backbone, head)
        return backbone, task, head

    def fit_start_probe(self, backbone, head) -> dict:
        """The linear probe fitted on the starting backbone's features of the labelled examples (the probe of
        ``evaluate.fit_probe``); with ``head_from_probe`` (LP-FT, Kumar et al. 2022) the linear ``head`` is set
        to it, standardisation folded in, so the fine-tune's first prediction is the frozen probe's. Returns
        that probe's test accuracy on this draw: the reference the fine-tune must beat."""
        rows = torch.cat([self.fit_idx, self.test_idx])
        feats = extract_features(backbone, self.eval_inputs[rows], self.device)
        fit_x, test_x = feats[: len(self.fit_idx)], feats[len(self.fit_idx) :]
        fit = fit_probe(fit_x, self.data.labels[self.fit_idx])
        weight, bias = fit.as_linear(head.out_features)
        with torch.no_grad():
            if self.config.head_from_probe:
                head.weight.copy_(weight)
                head.bias.copy_(bias)
            predicted = (test_x @ weight.T + bias).argmax(1)
        return {"accuracy": float((predicted == self.data.labels[self.test_idx]).float().mean())}

    def make_optimizer(self) -> torch.optim.Optimizer:
        """The optimizer over backbone and head; the schedule scales each group's ``base_lr``."""
        cfg = self.config
        lr0, wd = OPTIMIZERS[cfg.optimizer]
        lr0 = cfg.lr if cfg.lr is not None else lr0
        wd = cfg.weight_decay if cfg.weight_decay is not None else wd
        groups = [  # the backbone may learn slower than the head (fine-tuning)
            {"params": list(self.backbone.parameters()), "base_lr": lr0 * cfg.backbone_lr_scale},
            {"params": list(self.head.parameters()), "base_lr": lr0},
        ]
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=lr0, momentum=0.9, weight_decay=wd, nesterov=True)
        return torch.optim.AdamW(groups, lr=lr0, weight_decay=wd)

    def step_flops(self) -> float:
        """FLOPs of this run's training step, counted once per task/backbone/shape/batch (0 for random init)."""
        if self.task is None:
            return 0.0
        rows = self.fit_idx[: self.batch_size]
        inputs, labels = self.data.inputs[rows].to(self.device), self.data.labels[rows].to(self.device)
        vocab = len(self.data.tokenizer) if self.data.modality == "text" else None
        key = step_key(self.config, len(self.data.class_names), vocab)
        return step_flops(key, lambda: count_step_flops(self.task, self.backbone, self.head, inputs, labels), self.cache_dir)

    def plan_budget(self) -> Budget:
        budget = Budget.plan(self.config, len(self.fit_idx) // self.batch_size, self.step_flops())
        cap = self.config.max_steps
        if cap is not None and budget.total_steps is not None and budget.total_steps > cap:
            budget = dataclasses.replace(budget, total_steps=cap)
        return budget

    # -- what it is evaluated on ------------------------------------------------------------------
    @property
    def view(self) -> str:
        return self.config.view

    @property
    def eval_inputs(self):
        """The dataset's inputs in the run's evaluation view (computed once, on first use): what every probe,
        kNN, few-label curve, factor probe and map reads; the images themselves for most tasks."""
        if self._eval_inputs is None:
            self._eval_inputs = view_inputs(self.view, self.data.inputs)
        return self._eval_inputs

    @property
    def train_inputs(self):
        """What the objective trains on: the dataset's inputs, or their view (the rule of ``objective_inputs``)."""
        own = self.task.eval_view if self.task is not None else "image"
        return self.data.inputs if own == self.view else self.eval_inputs

    # -- the downstream signal during training ------------------------------------------------------
    def _probe_sets(self):
        gen = torch.Generator().manual_seed(self.config.seed + 1)
        bank = self.train_idx[torch.randperm(len(self.train_idx), generator=gen)[: self.config.probe_size]]
        queries = self.test_idx[torch.randperm(len(self.test_idx), generator=gen)[: self.config.probe_size // 2]]
        return bank, queries

    def probe(self) -> dict:
        """kNN accuracy of the current backbone on a fixed held-out subset: cheap enough to run often."""
        bank, queries = self._probe_sets()
        if self._probe_inputs is None:  # kept on the device: probes copy nothing
            self._probe_inputs = self.eval_inputs[torch.cat([bank, queries])].to(self.device)
        feats = extract_features(self.backbone, self._probe_inputs, self.device)
        labels = self.data.labels
        acc = knn_accuracy(feats[: len(bank)], labels[bank], feats[len(bank) :], labels[queries])
        flops = self.steps * self.budget.step_flops
        event = Progress.named(
            {"kind": "probe", "step": self.steps, "elapsed": round(self.train_seconds, 3), "flops": flops, "knn": acc}
        )
        self.probes.append(event)
        return event

    # -- training -----------------------------------------------------------------------------------
    def events(self, should_stop: Callable[[], bool] | None = None) -> Iterator[dict]:
        """Train, yielding a 'start' event, 'step' and 'probe' events, then an 'end' event.

        ``should_stop`` is checked before every step: cancelling takes effect within one step.
        """
        yield self.start_event()
        self.status = "running"
        if self.probing:
            yield self.probe()
        if self.task is not None:  # random init: nothing to train
            yield from self._train(should_stop or (lambda: False))
        if self.status != "cancelled":
            self.status = "finished"
        yield self.end_event()

    def start_event(self) -> dict:
        budget = self.budget
        return Progress.named({
            "kind": "start",
            "device": device_name(self.device),
            "task": self.config.task,
            "train_images": len(self.fit_idx),
            "test_images": len(self.test_idx),
            "steps_per_epoch": len(self.fit_idx) // self.batch_size,
            "budget": budget.kind,
            "planned_steps": budget.total_steps,
            "step_flops": budget.step_flops,
        })

    def end_event(self) -> dict:
        return Progress.named({
            "kind": "end",
            "status": self.status,
            "steps": self.steps,
            "elapsed": self.train_seconds,
            "under_budget": self.under_budget,
        })

    def accounting(self) -> dict:
        """steps, images_seen, flops, wall_s, under_budget (and the plan): what results record."""
        spent = self.budget.accounting(self.steps, self.batch_size, self.train_seconds, self.under_budget)
        return {**spent, "precision": self.precision}

    def _batches(self, n: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
        """Index batches on the device, epoch after epoch, a fresh seeded order each (the ragged end dropped)."""
        while True:
            order = to_device(torch.randperm(n, generator=gen), self.device)
            for start in range(0, n - self.batch_size + 1, self.batch_size):
                yield order[start : start + self.batch_size]

    def _train(self, should_stop: Callable[[], bool]) -> Iterator[dict]:
        budget, device = self.budget, self.device
        optimizer = self.make_optimizer()
        images = self.train_inputs[self.fit_idx].to(device)  # resident on the device for the whole run
        labels = self.data.labels[self.fit_idx].to(device)
        gen = torch.Generator().manual_seed(self.config.seed if self.draw == 0 else draw_seed(self.config.seed, self.draw))
        clock, tally = StepClock(device), Tally()
        self._train_mode()
        next_probe, rate, last_report = budget.next_probe(0.0), None, time.perf_counter()
        for idx in self._batches(len(self.fit_idx), gen):
            if should_stop():
                self.status = "cancelled"
                break
            if budget.progress(self.steps, clock.seconds) >= 1:
                break
            if budget.capped(clock.seconds):
                self.under_budget = True
                break
            clock.start()
            self._set_lr(optimizer, budget.progress(self.steps, clock.seconds))
            loss, metrics = self._step(optimizer, images[idx], labels[idx], gen)
            self.steps += 1
            tally.add(loss, metrics[self.task.metric], len(idx))
            progress = budget.progress(self.steps, clock.seconds)
            probe_due = self.probing and progress >= next_probe and progress < 1
            if self.sync_free or probe_due or progress >= 1 or time.perf_counter() - last_report >= REPORT_S:
                self.train_seconds = clock.stop()
                event, rate = self._report(optimizer, tally, rate)
                last_report = time.perf_counter()
                yield event
                if probe_due:
                    next_probe = budget.next_probe(progress)
                    yield self.probe()
                    self._train_mode()  # a probe restores train mode everywhere, BatchNorm included
        if tally.steps:  # the steps since the last report (a cancel or the cap on a GPU)
            self.train_seconds = clock.stop()
            yield self._report(optimizer, tally, rate)[0]
        if self.status != "cancelled" and self.probing:
            yield self.probe()

    def _train_mode(self) -> None:
        """Backbone and head in train mode, except BatchNorm layers when ``freeze_bn``: they keep normalising
        with (and keep) their running statistics, while their affine parameters still train."""
        self.backbone.train()
        self.head.train()
        if self.config.freeze_bn:
            for module in self.backbone.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def _set_lr(self, optimizer, progress: float) -> None:
        factor = lr_factor(progress, self.config.warmup)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor

    def _step(self, optimizer, images, labels, gen):
        try:
            return train_step(
                self.task, self.backbone, self.head, optimizer, images, labels, gen, self.autocast, self.sync_free
            )
        except torch.OutOfMemoryError:
            raise TrainingError(
                f"out of memory on {device_name(self.device)} at batch size {self.batch_size}: "
                "lower the batch size or the image size"
            ) from None

    def _report(self, optimizer, tally: Tally, rate: float | None) -> tuple[dict, float]:
        """The step event for the steps since the last report: the one place a GPU run waits for the device."""
        first = self.steps - tally.steps + 1
        loss, metric, steps, images = tally.read()
        if not math.isfinite(loss):
            where = f"step {self.steps}" if steps == 1 else f"steps {first}-{self.steps}"
            raise TrainingError(
                f"the loss became {loss} at {where}: training diverged. "
                f"Lower the learning rate (now {optimizer.param_groups[-1]['base_lr']:g})."
            )
        window = self.train_seconds - (self.history[-1]["elapsed"] if self.history else 0.0)
        speed = images / max(window, 1e-9)
        rate = speed if rate is None else 0.9 * rate + 0.1 * speed
        budget = self.budget
        event = Progress.named({
            "kind": "step",
            "step": self.steps,
            "epoch": self.steps / (len(self.fit_idx) // self.batch_size),
            "loss": loss,
            "metric": metric,
            "lr": optimizer.param_groups[-1]["lr"],
            "images_per_s": rate,
            "elapsed": self.train_seconds,
            "flops": self.steps * budget.step_flops,
            "eta": budget.eta(self.steps, self.train_seconds, self.batch_size / rate),
            "progress": min(1.0, budget.progress(self.steps, self.train_seconds)),
        })
        self.history.append(event)
        return event, rate

    def final_metric(self) -> float | None:
        """The pretext metric averaged over the last tenth of the reports (single steps are noisy)."""
        if not self.history:
            return None
        tail = self.history[-max(1, len(self.history) // 10) :]
        return sum(e["metric"] for e in tail) / len(tail)
