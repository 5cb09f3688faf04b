"""Results, "What did it learn?": rendered by AppTest from real finished runs, and its CSV export."""

import csv
import io
from pathlib import Path

import pytest
from signing import sign_in
from streamlit.testing.v1 import AppTest

from sslcore.finetune import finetune_config
from sslcore.learned import learned_csv
from sslcore.names import SCRATCH
from sslcore.runs import RunStore, Worker
from sslcore.train import TrainConfig

APP = str(Path(__file__).resolve().parents[1] / "app.py")
SMALL = dict(dataset="shapes", n=160, batch_size=32, epochs=1, probe_every=100.0, probe_size=20)


def finished_comparison() -> RunStore:
    """rotation + supervised + random init, then rotation and random init fine-tuned on 2 labels per class."""
    store = RunStore()
    _, ids = store.submit_group([TrainConfig(task="rotation", **SMALL), TrainConfig(task="supervised", **SMALL)])
    source = store.get(ids[0])
    store.submit(finetune_config(source.config, source.id, 2, epochs=2), source.group_id)
    store.submit(finetune_config(source.config, None, 2, epochs=2), source.group_id)
    Worker(store).run(max_runs=5)
    runs = store.list()
    assert {r.status for r in runs} == {"succeeded"}, [(r.task, r.error) for r in runs]
    return store


@pytest.mark.timeout(900)  # five real runs; slow when the machine is shared
def test_what_did_it_learn_renders_from_real_runs_and_exports_its_numbers():
    store = finished_comparison()
    at = sign_in(AppTest.from_file(APP, default_timeout=120).run(), "ada")
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    assert any(s.value == "What did it learn?" for s in at.subheader)
    charts = {c.proto.id: c.proto.spec for c in at.get("plotly_chart")}
    curve = next(s for s in charts.values() if "labels per class (log)" in s)
    assert "rotation" in curve and SCRATCH in curve and "random init" in curve and "ceiling" in curve
    assert '"type":"log"' in curve.replace(" ", "")
    at.selectbox(key="learned-k").set_value(2).run()
    bars = next(s for s in at.get("plotly_chart") if "fine-tuned @ 2" in s.proto.spec).proto.spec
    assert "linear probe @ 2" in bars and SCRATCH in bars
    heat = next(s for s in charts.values() if "vs random init" in s)
    for factor in ("class", "shape colour", "background texture", "tilt", "raw pixels"):
        assert factor in heat, factor
    lessons = [m.value for m in at.markdown if m.value.startswith("**Lesson.**")]
    assert len(lessons) == 3
    assert any(d.proto.label == "What did it learn? (CSV)" for d in at.get("download_button"))

    runs = store.list()
    rows = list(csv.DictReader(io.StringIO(learned_csv(runs, runs))))
    charts_in_csv = {r["chart"] for r in rows}
    assert charts_in_csv == {"labels per class", "probe vs fine-tune", "factors"}
    scratch = [r for r in rows if r["run"] == SCRATCH and r["chart"] == "labels per class"]
    assert scratch and scratch[0]["labels_per_class"] == "2" and 0 <= float(scratch[0]["value"]) <= 1

    # fine-tunes at another k are one click away, and queued for the worker
    at.selectbox(key="learned-k").set_value(5).run()
    next(b for b in at.button if b.label.startswith("Queue 2 fine-tunes at k = 5")).click().run()
    assert not at.exception, at.exception
    # the page starts a worker, which may have claimed one already: every fine-tune at k = 5, whatever its status
    queued = [r for r in store.list() if r.task == "finetune" and r.config["labels_per_class"] == 5]
    assert sorted(r.config["init_from"] or "" for r in queued) == ["", next(r.id for r in runs if r.task == "rotation")]
    for run in queued:
        store.cancel(run.id, by=run.owner)
