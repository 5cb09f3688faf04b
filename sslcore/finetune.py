"""Fine-tuning: a finished run's backbone plus a linear head, trained on k labels per class.

One fixed recipe for every source, so fine-tunes compare with each other: the supervised objective (a
linear head on the pooled features, cross-entropy), random crops and flips for images (text rows are used
as they are), linear warm-up then cosine decay, AdamW, and a lower learning rate for the backbone than for
the head: the head at 1e-2, the backbone at 2e-3 (the rate every run trains with), so a few labels adjust
the features rather than overwrite them. Lower still was measured and rejected: with the backbone at
2e-4, supervised from scratch on all labels of shapes reached 13.6% after 40 steps against 41.0% at
2e-3, a reference too weak to be honest. Started from random init instead of a run, the same recipe *is*
supervised learning from scratch on the same k labels: both come out of this one code path (a
``finetune`` config with ``init_from=None``), which is what makes the comparison at small k fair.
"""

from __future__ import annotations

from pathlib import Path

from sslcore import artifacts
from sslcore.artifacts import ArtifactError
from sslcore.errors import ConfigError
from sslcore.tasks import run_view
from sslcore.train import FINETUNE, RANDOM_INIT, TrainConfig

RECIPE_PARAMS = {"crop_min": 0.5, "flip": True}  # the supervised task's augmentation (images)
HEAD_LR = 1e-2
BACKBONE_LR_SCALE = 0.2  # the backbone at 2e-3, the learning rate every run trains with (AdamW default)
WARMUP = 0.1
DEFAULT_BUDGET_S = 20.0
SCRATCH = "supervised from scratch"  # how a fine-tune from random init is named in tables and charts
# settings a fine-tune inherits from its source run, so data, split and backbone are the same
INHERITED = ("dataset", "n", "image_size", "seq_len", "backbone", "backbone_args", "seed", "test_fraction", "device")
# and the source's evaluation view (finetune_config): a colorization run's fine-tune trains and is scored on grey


def source_view(source: dict) -> str | None:
    """The evaluation view a fine-tune of this source run trains and is evaluated on, as its config's
    ``eval_view`` (None: the images). Configs stored before views existed lack the field: their task's own."""
    view = source.get("eval_view") or run_view(source.get("task", ""))
    return None if view == "image" else view


def finetune_config(
    source: dict,
    init_from: str | None,
    labels_per_class: int | None,
    *,
    budget: float | None = DEFAULT_BUDGET_S,
    epochs: float | None = None,
    compute: float | None = None,
    max_seconds: float | None = None,
    batch_size: int | None = None,
) -> TrainConfig:
    """The fine-tune of run ``init_from`` (None: from random init) whose config is ``source``.

    ``labels_per_class`` None uses every label of the training split. ``compute`` (FLOPs) or ``epochs``,
    when given, replace the seconds of ``budget``: a comparison's fine-tunes follow its budget rule.
    """
    inherited = {key: source[key] for key in INHERITED if key in source}
    config = TrainConfig(
        task=FINETUNE,
        **inherited,
        eval_view=source_view(source) if init_from is not None else None,  # from scratch: the images
        budget=None if epochs is not None or compute is not None else budget,
        epochs=epochs,
        compute=compute,
        max_seconds=max_seconds,
        batch_size=batch_size or source.get("batch_size", 256),
        params=dict(RECIPE_PARAMS),
        warmup=WARMUP,
        optimizer="adamw",
        lr=HEAD_LR,
        init_from=init_from,
        labels_per_class=labels_per_class,
        backbone_lr_scale=BACKBONE_LR_SCALE,
    )
    return config.validate()


def finetune_configs(
    sources: list[tuple[dict, str]], scratch_from: dict | None, labels_per_class: int | None, **budget
) -> list[TrainConfig]:
    """The fine-tune of each (config, run id) in ``sources``, then supervised from scratch on the data of config
    ``scratch_from`` (None: none): one recipe and one budget (``finetune_config``'s keywords) for all of them."""
    scratch = [(scratch_from, None)] if scratch_from is not None else []
    return [finetune_config(config, run_id, labels_per_class, **budget) for config, run_id in [*sources, *scratch]]


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


def source_label(results: dict) -> str:
    """'rotation', or SCRATCH for a fine-tune from random init (what charts and tables call it)."""
    return results.get("finetune", {}).get("source_task") or SCRATCH
