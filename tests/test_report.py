"""Downloads from the Results page: the CSV and the Embedding Projector files."""

import csv
import io

import numpy as np

from sslcore.report import COLUMNS, projector_tsv, result_row, results_csv
from sslcore.runs.store import Run


def finished_run(task="rotation", probe=0.6, run_id="0123456789ab") -> Run:
    return Run(
        id=run_id, group_id="g1", kind="task", task=task, config={"dataset": "shapes", "seed": 3},
        status="succeeded", created=1.0, started=2.0, finished=3.0, worker_id="w", heartbeat=3.0, progress=None,
        error=None, cancel_requested=False,
        results={"linear_probe": probe, "knn": 0.4, "baseline": {"linear_probe": 0.2, "knn": 0.1},
                 "pretext_metric": 0.9, "metric_label": "pretext accuracy", "train_seconds": 60.0, "steps": 50,
                 "device": "CPU"},
    )


def test_results_csv_has_one_row_per_run_with_baseline():
    rows = list(csv.DictReader(io.StringIO(results_csv([finished_run(), finished_run("jigsaw", 0.7, "ba9876543210")]))))
    assert [r["task"] for r in rows] == ["rotation", "jigsaw"]
    assert tuple(rows[0]) == COLUMNS
    assert float(rows[1]["linear_probe"]) == 0.7 and float(rows[1]["baseline_probe"]) == 0.2
    assert result_row(finished_run())["seed"] == 3


def test_projector_files_line_up():
    embedding = {
        "features": np.arange(12, dtype=np.float16).reshape(3, 4),
        "indices": np.array([5, 9, 2]),
        "labels": np.array([0, 1, 0]),
    }
    vectors, metadata = projector_tsv(embedding, ["cat", "dog"])
    vector_rows = vectors.strip().split("\n")
    meta_rows = metadata.strip().split("\n")
    assert len(vector_rows) == 3 and all(len(r.split("\t")) == 4 for r in vector_rows)
    assert vector_rows[1].split("\t") == ["4", "5", "6", "7"]
    assert meta_rows[0] == "index\tlabel\tclass" and meta_rows[2] == "9\t1\tdog" and len(meta_rows) == 4
