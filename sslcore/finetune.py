"""Fine-tuning: a finished run's backbone plus a linear head, trained on k labels per class.

One recipe for every source, in two regimes by the number of labels, so fine-tunes compare with each other
and never start below the frozen probe they came from:

- **Few labels (fewer than FEW_BELOW = 25 per class, about one batch of images or less): LP-FT** (Kumar et
  al. 2022). The linear head starts as the linear probe fitted (``evaluate.fit_probe``, the probe every
  accuracy uses) on the starting backbone's features of the labelled examples, its standardisation folded
  in (W/σ, b − (W/σ)·μ): before any step the fine-tune predicts what the probe predicts (a random head would
  send large gradients through the features while it learns to read them). The head trains at HEAD_LR =
  1e-3 (it starts at an optimum), the backbone at BACKBONE_LR_SCALE = 0.1 × that, and BatchNorm keeps the
  source's running statistics (the features the probe was fitted on; a handful of augmented crops would
  replace statistics estimated on the whole training split). Measured (``benchmarks/finetune_lr.py``,
  docs/benchmarks.md): a backbone at 1e-3 fell below the probe with 10 labels per class, 0.3 × fell below
  jigsaw's probe on the quick comparison's sources where 0.1 × did not.
- **Many labels: full fine-tuning**, supervised from scratch's own recipe (a fresh head, the whole network at
  SCRATCH_LR = 1e-2, BatchNorm trained) started from the source's backbone: against scratch, only the start
  differs. A probe-fitted head does not survive this regime: with BatchNorm re-estimated and the backbone
  moving fast, a head fitted to the old features (low-variance dimensions scaled up by its standardisation)
  turns every feature change into noise; on shapes with all labels jigsaw's fine-tune reached 30% with it
  and 95% with a fresh head (scratch: 94%), while lower rates with the probe head stayed below the probe.
- **Length by epochs**: EPOCHS over the labelled set, capped at MAX_STEPS, so k = 1 is not hundreds of steps
  and k = all is not one epoch (``budget``/``epochs``/``compute`` keywords still override it, per draw).
- **Draws**: a run trains DRAWS label draws, the label curve's own (``fewlabel.draw_seed``), one after the
  other (``train_draws``: one queued run, one progress bar); results give the median, the spread and the
  frozen probe on the same draws (both regimes fit it, as the reference). Draw 0's weights are saved.
- Crops and flips for images that keep every label of the data set (``recipe_params``: digits are not mirrored
  and keep at least 80% of their area; on digits the shapes recipe put fine-tunes at 10 labels per class 4-5
  points below their probe), text rows as they are; linear warm-up then cosine decay.

Started from random init the same config *is* supervised learning from scratch on the same k labels (one
code path: a ``finetune`` config with ``init_from=None``): a random head, BatchNorm trained, the whole
network at SCRATCH_LR, the rate that was best for it in the same sweep, so the reference is not handicapped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from sslcore import artifacts
from sslcore.errors import ArtifactError, ConfigError
from sslcore.menus import BUILTIN_DATASETS, BuiltinDataset
from sslcore.records import Progress
from sslcore.tasks import run_view
from sslcore.train import FINETUNE, RANDOM_INIT, TrainConfig, Trainer

HEAD_LR = 1e-3  # LP-FT: the head starts at the probe's optimum; AdamW moves each weight by about lr a step
BACKBONE_LR_SCALE = 0.1  # LP-FT: the backbone at HEAD_LR x this (measured: benchmarks/finetune_lr.py)
SCRATCH_LR = 1e-2  # scratch and full fine-tuning: the whole network at one rate, the best for scratch measured
WARMUP = 0.1
BATCH_SIZE = 256  # the recipe's, whatever its source trained with: every fine-tune at k takes the same steps
EPOCHS = 30.0  # the length rule: epochs over the labelled set...
MAX_STEPS = 300  # ...capped in steps (a large labelled set does not train for hours)
FEW_BELOW = 25  # fewer labels per class than this: LP-FT (probe head, small rates, BatchNorm statistics kept)
DRAWS = 3  # label draws a fine-tune trains and scores: the label curve's draws 0, 1, 2
# settings a fine-tune inherits from its source run, so data, split and backbone are the same
INHERITED = ("dataset", "n", "image_size", "seq_len", "backbone", "backbone_args", "seed", "test_fraction", "device")
# and the source's evaluation view (finetune_config): a colorization run's fine-tune trains and is scored on grey


def recipe_params(dataset: str | None) -> dict:
    """The augmentation a fine-tune of ``dataset`` trains with: the supervised task's random crops and mirrors,
    as far as the data set says they keep its labels (a person's own images: as photos, both)."""
    safe = BUILTIN_DATASETS.get(dataset or "", BuiltinDataset("image", "", ""))
    return {"crop_min": safe.smallest_crop, "flip": safe.mirror_keeps_label}


def source_view(source: dict) -> str | None:
    """The evaluation view a fine-tune of this source run trains and is evaluated on, as its config's
    ``eval_view`` (None: the images). Configs stored before views existed lack the field: their task's own."""
    view = source.get("eval_view") or run_view(source.get("task", ""))
    return None if view == "image" else view


def lp_ft(init_from: str | None, labels_per_class: int | None) -> bool:
    """Whether a fine-tune is LP-FT (from a run, with fewer than FEW_BELOW labels per class: about one batch of
    images or less) rather than full fine-tuning or scratch."""
    return init_from is not None and labels_per_class is not None and labels_per_class < FEW_BELOW


def finetune_config(
    source: dict,
    init_from: str | None,
    labels_per_class: int | None,
    *,
    budget: float | None = None,
    epochs: float | None = None,
    compute: float | None = None,
    max_seconds: float | None = None,
    batch_size: int | None = None,
    draws: int = DRAWS,
) -> TrainConfig:
    """The fine-tune of run ``init_from`` (None: supervised from scratch) whose config is ``source``.

    ``labels_per_class`` None uses every label of the training split. The length is the recipe's rule,
    EPOCHS over the labelled set capped at MAX_STEPS, unless ``compute`` (FLOPs), ``epochs`` or ``budget``
    (seconds) is given: then each draw trains that much.
    """
    inherited = {key: source[key] for key in INHERITED if key in source}
    rule = compute is None and epochs is None and budget is None
    probe_head = lp_ft(init_from, labels_per_class)
    config = TrainConfig(
        task=FINETUNE,
        **inherited,
        eval_view=source_view(source) if init_from is not None else None,  # from scratch: the images
        budget=budget,
        epochs=EPOCHS if rule else epochs,
        compute=compute,
        max_seconds=max_seconds,
        max_steps=MAX_STEPS if rule else None,
        batch_size=batch_size or BATCH_SIZE,
        params=recipe_params(inherited.get("dataset")),
        warmup=WARMUP,
        optimizer="adamw",
        lr=HEAD_LR if probe_head else SCRATCH_LR,
        init_from=init_from,
        labels_per_class=labels_per_class,
        backbone_lr_scale=BACKBONE_LR_SCALE if probe_head else 1.0,
        freeze_bn=probe_head,
        head_from_probe=probe_head,
        draws=draws,
    )
    return config.validate()


def finetune_configs(
    sources: list[tuple[dict, str]], scratch_from: dict | None, labels_per_class: int | None, **budget
) -> list[TrainConfig]:
    """The fine-tune of each (config, run id) in ``sources``, then supervised from scratch on the data of config
    ``scratch_from`` (None: none): one recipe and one length (``finetune_config``'s keywords) for all of them."""
    scratch = [(scratch_from, None)] if scratch_from is not None else []
    return [finetune_config(config, run_id, labels_per_class, **budget) for config, run_id in [*sources, *scratch]]


def train_draws(
    trainers: list[Trainer], make: Callable[[int], Trainer], should_stop: Callable[[], bool] | None = None
) -> Iterator[dict]:
    """Train a fine-tune's draws one after the other as one run, yielding one run's events.

    ``trainers`` holds draw 0's trainer; ``make(d)`` builds draw d's, which is appended. Draw 0 is the run
    the pages watch (its history and weights are saved); no draw runs kNN probes (``Trainer.probing``).
    Step events continue across draws (step, elapsed and flops add up; ``progress`` is the share of all
    draws, ``eta`` counts the draws still to come), so the progress bar never jumps back. ``should_stop``
    is checked before every step and between draws; one "end" event closes the run.
    """
    stop = should_stop or (lambda: False)
    first = trainers[0]
    total = first.config.draws
    done = {"steps": 0, "elapsed": 0.0, "flops": 0.0}
    for d in range(total):
        if d:
            if stop():
                trainers[-1].status = "cancelled"
                break
            trainers.append(make(d))
        trainer = trainers[d]
        for event in trainer.events(stop):
            kind = event["kind"]
            if kind == "start":
                if d == 0:
                    planned = event.get("planned_steps")
                    yield Progress.named(
                        {**event, "planned_steps": planned * total if planned is not None else None, "draws": total}
                    )
                continue
            if kind == "end":
                continue
            if kind == "step":
                eta, elapsed = event["eta"], event["elapsed"]
                event = Progress.named({
                    **event,
                    "draw": d,
                    "step": event["step"] + done["steps"],
                    "elapsed": elapsed + done["elapsed"],
                    "flops": event["flops"] + done["flops"],
                    "progress": (d + event["progress"]) / total,
                    "eta": eta + (total - 1 - d) * (elapsed + eta),
                })
            yield event
        done["steps"] += trainer.steps
        done["elapsed"] += trainer.train_seconds
        done["flops"] += trainer.steps * trainer.budget.step_flops
        if trainer.status == "cancelled":
            break
    status = "cancelled" if any(t.status == "cancelled" for t in trainers) else "finished"
    yield Progress.named({
        "kind": "end",
        "status": status,
        "steps": done["steps"],
        "elapsed": done["elapsed"],
        "under_budget": any(t.under_budget for t in trainers),
        "draws": len(trainers),
    })


def source_dir(data_dir: Path, run_id: str) -> Path:
    """The run folder of a fine-tune's source (ids were validated: only 12 hex digits become a path)."""
    return Path(data_dir) / "runs" / run_id


def load_source(run_dir: Path, run_id: str) -> tuple[dict, dict]:
    """(config, backbone state) of a finished run, from safetensors; a clear ConfigError if it cannot be used."""
    try:
        config = artifacts.load_config(run_dir)
        artifacts.load_results(run_dir)  # present only when the run finished and saved everything
        state = artifacts.load_backbone(run_dir, config.get("backbone")).state_dict()
    except ArtifactError as err:
        raise ConfigError(
            f"run {run_id} cannot be fine-tuned: it has not finished or its files are gone ({err})"
        ) from None
    if config.get("task") == RANDOM_INIT:
        raise ConfigError(
            f"run {run_id} is the random-init baseline: fine-tune it as 'supervised from scratch' instead"
        )
    return config, state
