"""Plain-data views of finished runs for the Results page and downloads (no Streamlit here)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from sslcore.context import context_line, flags, images_seen, pretext_scale, scale_note
from sslcore.kinds import FINETUNE, RANDOM_INIT
from sslcore.names import run_label, run_labels, run_names
from sslcore.runs.store import Run, display_owner
from sslcore.uploads import dataset_label

PROBE_OF_FINETUNED = "probe of the fine-tuned backbone"  # how a fine-tune's linear probe is labelled wherever shown

COLUMNS = (
    "id",
    "group",
    "run",
    "task",
    "dataset",
    "status",
    "labels_per_class",
    "finetuned_accuracy",
    "linear_probe",
    "knn",
    "probe_of",
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


def probe_of(run: Run) -> str:
    """What a run's linear probe and kNN read: a fine-tune's are of its fine-tuned backbone, not its accuracy."""
    if run.task == FINETUNE:
        return PROBE_OF_FINETUNED
    return "the untrained backbone" if run.task == RANDOM_INIT else "frozen features"


def finetuned_accuracy(run: Run) -> float | None:
    """A fine-tune's accuracy: its fine-tuned network's (backbone + head) on the test split, the median over
    its label draws; None for every other run."""
    return ((run.results or {}).get("finetune") or {}).get("accuracy") if run.task == FINETUNE else None


def result_row(run: Run, name: str | None = None, label: str | None = None) -> dict:
    """One run's numbers. ``label``: its name among the runs shown with it (``result_rows`` gives each run
    its own); ``name`` the same without the seed, what seeds of one setting are grouped under."""
    r = run.results or {}
    base = r.get("baseline") or {}
    label = label or run_label(run)
    return {
        "id": run.id,
        "group": run.group_id or "",
        "run": label,
        "task": name or label,
        "kind": run.task,  # for grouping in code; not written to the CSV (a kind is not a name)
        "dataset": dataset_label(run.config.get("dataset")),
        "status": run.status,
        "labels_per_class": run.config.get("labels_per_class"),
        "finetuned_accuracy": finetuned_accuracy(run),
        "linear_probe": r.get("linear_probe"),
        "knn": r.get("knn"),
        "probe_of": probe_of(run),
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


def result_rows(runs: list[Run], lookup=None) -> list[dict]:
    """Every run's row, each named among the others (``sslcore.names``; ``lookup`` finds fine-tunes' sources)."""
    names, labels = run_names(runs, lookup), run_labels(runs, lookup)
    return [result_row(run, names[run.id], labels[run.id]) for run in runs]


def results_csv(runs: list[Run], lookup=None) -> str:
    """The runs' rows as CSV: a fine-tune's accuracy in ``finetuned_accuracy``; its ``linear_probe`` and ``knn``
    read its fine-tuned backbone (``probe_of`` says which backbone every row's probe read)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(result_rows(runs, lookup))
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


def weights_path(run_dir) -> Path:
    """Where a finished run's backbone weights are (its download reads them only when asked); an ArtifactError
    naming the file when it is not there."""
    from sslcore.artifacts import WEIGHTS, ArtifactError

    path = Path(run_dir) / WEIGHTS
    if not path.is_file():
        raise ArtifactError(f"{path} cannot be read (it is missing)")
    return path


def weights_file(run_dir) -> bytes:
    """A finished run's backbone weights (safetensors) for download; an ArtifactError naming the file otherwise."""
    from sslcore.artifacts import WEIGHTS, ArtifactError

    path = Path(run_dir) / WEIGHTS
    try:
        return path.read_bytes()
    except OSError as err:
        raise ArtifactError(f"{path} cannot be read ({err.strerror or err})") from None


def pretext_points(runs: list[Run], names: dict[str, str] | None = None) -> list[dict]:
    """Pretext success against downstream accuracy, one point per trained run that has a pretext metric (not
    fine-tunes: they solved no pretext task): ``task`` is its name (``names``: {id: name}, else its own),
    ``x`` its metric on the common scale (0 = chance, 1 = perfect), ``y`` its linear probe (%), ``raw`` the
    metric in its own words and ``scale`` how it was rescaled."""
    points = []
    names = names or run_names(runs)
    for run in runs:
        r = run.results or {}
        if run.task in (RANDOM_INIT, FINETUNE) or r.get("pretext_metric") is None:
            continue
        params, batch, classes = run.config.get("params") or {}, run.config.get("batch_size"), r.get("num_classes")
        points.append(
            {
                "task": names[run.id],
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
