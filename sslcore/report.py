"""Plain-data views of finished runs for the Results page and downloads (no Streamlit here)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from sslcore.context import context_line, flags, images_seen, pretext_scale, scale_note
from sslcore.errors import ConfigError
from sslcore.kinds import FINETUNE, RANDOM_INIT
from sslcore.runs.store import Run, display_owner
from sslcore.tasks.custom import CUSTOM, parse_definition
from sslcore.uploads import dataset_label

COLUMNS = (
    "id",
    "group",
    "task",
    "dataset",
    "status",
    "linear_probe",
    "knn",
    "baseline_probe",
    "baseline_knn",
    "pretext_metric",
    "metric_label",
    "train_seconds",
    "steps",
    "images_seen",
    "test_images",
    "num_classes",
    "device",
    "seed",
    "owner",
    "flags",
)

# Paul Tol's "muted" qualitative scheme (colour-blind safe), then grey for anything beyond it.
CLASS_COLOURS = [
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
    "#DDDDDD",
    "#000000",
    "#E69F00",
]


def task_title(run: Run) -> str:
    """The task as a person names it: a custom task by its design's name ("custom: Predict the flip"), a
    fine-tune by what it starts from and on how many labels ("fine-tune of 3fa2c1 @ 10/class")."""
    if run.task == CUSTOM:
        try:
            return f"{CUSTOM}: {parse_definition(run.config.get('params', {}).get('definition', '')).name}"
        except ConfigError:
            return CUSTOM
    if run.task != FINETUNE:
        return run.task
    k = run.config.get("labels_per_class") or "all"
    source = run.config.get("init_from")
    return f"fine-tune of {source[:6]} @ {k}/class" if source else f"supervised from scratch @ {k}/class"


def run_label(run: Run) -> str:
    seed = run.config.get("seed")
    return f"{task_title(run)} · {dataset_label(run.config.get('dataset'))} · seed {seed} · {run.id[:6]}"


def result_row(run: Run) -> dict:
    r = run.results or {}
    base = r.get("baseline") or {}
    return {
        "id": run.id,
        "group": run.group_id or "",
        "task": task_title(run),
        "dataset": dataset_label(run.config.get("dataset")),
        "status": run.status,
        "linear_probe": r.get("linear_probe"),
        "knn": r.get("knn"),
        "baseline_probe": base.get("linear_probe"),
        "baseline_knn": base.get("knn"),
        "pretext_metric": r.get("pretext_metric"),
        "metric_label": r.get("metric_label"),
        "train_seconds": r.get("train_seconds"),
        "steps": r.get("steps"),
        "images_seen": images_seen(r, run.config),
        "test_images": r.get("test_images"),
        "num_classes": r.get("num_classes") or len(r.get("class_names") or []) or None,
        "device": r.get("device"),
        "seed": run.config.get("seed"),
        "owner": display_owner(run.owner),
        "flags": " ".join(flags({**r, "task": run.task}, run.config)),
        "context": context_line(r, run.config),
    }


def results_csv(runs: list[Run]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for run in runs:
        writer.writerow(result_row(run))
    return out.getvalue()


def projector_tsv(embedding: dict, class_names: list[str]) -> tuple[str, str]:
    """(vectors.tsv, metadata.tsv) in the format the TensorFlow Embedding Projector loads."""
    features = np.asarray(embedding["features"], dtype=np.float32)
    vectors = "\n".join("\t".join(f"{v:.5g}" for v in row) for row in features) + "\n"
    lines = ["index\tlabel\tclass"]
    for index, label in zip(embedding["indices"].tolist(), embedding["labels"].tolist()):
        name = class_names[label] if 0 <= label < len(class_names) else str(label)
        lines.append(f"{index}\t{label}\t{name}")
    return vectors, "\n".join(lines) + "\n"


def weights_file(run_dir) -> bytes:
    """A finished run's backbone weights (safetensors) for download; an ArtifactError naming the file otherwise."""
    from sslcore.artifacts import WEIGHTS, ArtifactError

    path = Path(run_dir) / WEIGHTS
    try:
        return path.read_bytes()
    except OSError as err:
        raise ArtifactError(f"{path} cannot be read ({err.strerror or err})") from None


def pretext_points(runs: list[Run]) -> list[dict]:
    """Pretext success against downstream accuracy, one point per trained run that has a pretext metric:
    ``x`` is its metric on the common scale (0 = chance, 1 = perfect), ``y`` its linear probe (%), ``raw`` the
    metric in its own words and ``scale`` how it was rescaled."""
    points = []
    for run in runs:
        r = run.results or {}
        if run.task == RANDOM_INIT or r.get("pretext_metric") is None:
            continue
        params, batch, classes = run.config.get("params") or {}, run.config.get("batch_size"), r.get("num_classes")
        points.append(
            {
                "task": run.task,
                "x": pretext_scale(run.task, r["pretext_metric"], params, batch, classes),
                "y": 100 * r["linear_probe"],
                "raw": f"{r.get('metric_label') or 'pretext metric'}: {r['pretext_metric']:.3g}",
                "scale": scale_note(run.task, params, batch, classes),
            }
        )
    return points


def neighbour_rows(embedding: dict, point: int) -> list[int]:
    """The dataset rows of a map's point ``point`` and of its nearest neighbours, nearest first."""
    return [int(embedding["indices"][point])] + [int(embedding["indices"][j]) for j in embedding["neighbours"][point]]
