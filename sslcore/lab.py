"""What the pages may ask of sslcore: the one module ``app.py`` and ``views/`` import (``from sslcore import lab``).

A page needs constants for its menus, a few operations (queue runs, read results, preview a task) and the
errors to catch. They are listed here by purpose, so a newcomer writing a page finds everything in one
place, and sslcore can move its insides without touching a page. A test (``tests/test_lab_surface.py``)
fails when a page imports any other sslcore module.

Names resolve lazily (PEP 562): ``import sslcore.lab`` imports nothing heavy, and ``lab.MAX_SEED`` imports
only the torch-free ``sslcore.limits``; the first torch-backed name a page touches (``lab.TrainConfig``,
``lab.TASKS``...) loads torch then. So a page can draw its text before torch is imported. The names that
need no torch: errors of ``sslcore.errors``, run kinds, limits, menus, the run store and its records,
``data_dir``, the context functions.

Groups (the defining module in brackets):

- **Errors to catch** — ``PretextLabError`` (every error meant for a person), ``ConfigError``,
  ``ArtifactError`` (a damaged run folder), ``NotAllowed`` (the store refused a change).
- **Run kinds** [sslcore.kinds, sslcore.tasks.custom] — ``RANDOM_INIT``, ``SUPERVISED``, ``FINETUNE``,
  ``CUSTOM``: use these, never the strings.
- **Limits** [sslcore.limits] — every limit a page enforces or words: seeds, uploads, text, designs.
- **Menus** [sslcore.menus, sslcore.train, sslcore.device, sslcore.models] — datasets (``data_menu``), backbones, devices,
  optimizers, batch sizes, preview sizes.
- **Tasks and previews** [sslcore.tasks, sslcore.tasks.custom, sslcore.transforms, sslcore.preview] — the
  registry, knob specs, custom designs, and rendering a task's ``explain`` output.
- **Data** [sslcore.data, sslcore.uploads] — built-in sets, decoding uploads, keeping a training upload.
- **Training** [sslcore.train, sslcore.device, sslcore.budget, sslcore.speed, sslcore.flops, sslcore.finetune, sslcore.sweeps] — configs,
  budgets in seconds and FLOPs, the quick comparison, fine-tunes, sweeps.
- **Runs** [sslcore.runs, sslcore.paths] — the store, the worker, owners (who is proven to be whom), and the typed records a run leaves
  (``Progress``, ``RunResults``).
- **Results** [sslcore.report, sslcore.context, sslcore.learned, sslcore.predict, sslcore.artifacts,
  sslcore.stages] — rows, CSVs, what a number rests on, "What did it learn?", predictions, embeddings,
  which layer holds what.
"""

from __future__ import annotations

import importlib

_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "errors": {
        "sslcore.errors": ("PretextLabError", "ConfigError", "ArtifactError", "NotAllowed"),
    },
    "run kinds": {
        "sslcore.kinds": ("RANDOM_INIT", "SUPERVISED", "FINETUNE"),
        "sslcore.tasks.custom": ("CUSTOM",),
    },
    "limits": {
        "sslcore.limits": (
            "MAX_SEED",
            "MAX_SEEDS",
            "MAX_UPLOAD_BYTES",
            "MAX_PIXELS",
            "MAX_FILES",
            "MAX_TOTAL_BYTES",
            "MAX_UPLOAD_FILES",
            "MAX_TEXT_BYTES",
            "MAX_SENTENCES",
            "MAX_PASTE_CHARS",
            "MIN_SECRET_CHARS",
            "MAX_SECRET_CHARS",
            "MAX_DESIGN_FILE_BYTES",
            "DEFAULT_SHAPES_N",
            "MIN_SHAPES_N",
            "MAX_SHAPES_N",
            "SHAPES_N_STEP",
            "MB",
        ),
        "sslcore.tasks.custom": ("MAX_DEFINITION_CHARS", "MAX_LEVELS"),
    },
    "menus": {
        "sslcore.menus": (
            "BUILTIN_DATASETS",
            "DEFAULT_DATASET",
            "data_menu",
            "UPLOAD",
            "PASTE",
            "UPLOAD_TEXT",
            "BATCH_SIZES",
            "PREVIEW_SIZES",
            "MAX_PREVIEW_COUNT",
        ),
        "sslcore.models": (
            "DEFAULT_BACKBONE", "backbones_for", "describe_backbones", "parse_backbone_args",
        ),
        "sslcore.train": ("OPTIMIZERS",),
        "sslcore.device": ("available_devices",),
    },
    "tasks and previews": {
        "sslcore.tasks": (
            "TASKS",
            "get_task",
            "list_tasks",
            "run_modality",
            "task_class",
            "param_specs",
            "make_params",
            "PreviewItem",
            "TextPreviewItem",
        ),
        "sslcore.tasks.base": ("ParamSpec",),
        "sslcore.tasks.custom": (
            "CustomTask",
            "Definition",
            "parse_definition",
            "encode_definition",
            "decode_definition",
            "EXAMPLES",
            "FLIP_TASK",
            "TARGETS",
        ),
        "sslcore.transforms": ("TRANSFORMS",),
        "sslcore.custom_tasks": ("CustomTaskStore", "SavedTask", "read_design"),
        "sslcore.preview": (
            "render_image",
            "to_pil",
            "text_view_html",
            "text_legend_html",
            "preview_rows",
            "preview_batch",
            "image_card",
            "text_card",
        ),
    },
    "data": {
        "sslcore.data": ("DATASETS", "TextDataset", "dataset_modality", "load_dataset", "load_uploads", "load_zip"),
        "sslcore.data.files": ("decode_uploads", "summarize_errors"),
        "sslcore.data.text": ("load_text_uploads",),
        "sslcore.uploads": ("save_upload", "dataset_label"),
    },
    "training": {
        "sslcore.train": ("TrainConfig",),
        "sslcore.device": ("resolve_device", "device_name"),
        "sslcore.plans": ("QUICK_COMPUTE", "QUICK_TASKS", "quick_runs", "quick_finetunes", "quick_words"),
        "sslcore.budget": ("describe", "safety_cap"),
        "sslcore.speed": ("known_speed", "measure_speed"),
        "sslcore.flops": ("format_flops",),
        "sslcore.finetune": ("finetune_config", "finetune_configs", "DRAWS"),
        "sslcore.sweeps": (
            "PRESETS",
            "parse_sweep",
            "sweep_configs",
            "sweep_knob",
            "sweep_points",
            "reading",
            "default_sweep_values",
        ),
    },
    "runs": {
        "sslcore.paths": ("data_dir",),
        "sslcore.runs": (
            "RunStore", "Run", "FINISHED", "ensure_worker", "display_owner", "is_teacher", "evaluation_phase",
        ),
        "sslcore.runs.store": ("check_typed_name", "may_change"),
        "sslcore.runs.owners": ("Owners", "Identity", "NameTaken", "oidc_identity", "PASS_MAX_AGE_S"),
        "sslcore.runs.worker": ("EXECUTOR_ENV",),
        "sslcore.records": ("Progress", "RunResults", "ProbePoint", "Baseline"),
    },
    "results": {
        "sslcore.lesson": ("comparison_lesson",),
        "sslcore.report": (
            "CLASS_COLOURS",
            "PROBE_OF_FINETUNED",
            "finetuned_accuracy",
            "result_row",
            "result_rows",
            "results_csv",
            "pretext_points",
            "neighbour_rows",
            "projector_tsv",
            "weights_file",
            "weights_path",
        ),
        "sslcore.names": (
            "SCRATCH",
            "RANDOM_INIT_WORDS",
            "labels_words",
            "picker_labels",
            "plural",
            "run_label",
            "run_labels",
            "run_names",
            "task_words",
        ),
        "sslcore.artifacts": ("load_embedding",),
        "sslcore.context": ("chance_points", "context_line", "flags", "metric_is_accuracy", "spread"),
        "sslcore.fewlabel": ("ALL", "LABELS_PER_CLASS"),
        "sslcore.learned": (
            "bar_rows",
            "ceiling",
            "curve_rows",
            "factor_rows",
            "finetune_ks",
            "finetunes_of",
            "k_choices",
            "is_source",
            "learned_csv",
        ),
        "sslcore.predict": ("predict_run",),
        "sslcore.stages": ("stage_panel",),
    },
}

_HOME = {name: module for group in _GROUPS.values() for module, names in group.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    """Import the module that defines ``name`` on first use, and keep the value here (later lookups are plain)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"sslcore.lab has no {name!r}: pages ask sslcore only for what sslcore/lab.py lists")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def preload() -> None:
    """Import every module behind this surface now. ``serve.py`` calls it while the server starts, so no visit
    waits for torch; pages never need it (names load on first use anyway)."""
    for module in sorted(set(_HOME.values())):
        importlib.import_module(module)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
