"""What a trained network predicts, for every task: from real run folders made by a real worker."""

from pathlib import Path

import pytest
from signing import sign_in
from streamlit.testing.v1 import AppTest

from sslcore.predict import RIGHT, WRONG, predict_run
from sslcore.runs import RunStore, Worker
from sslcore.tasks import TASKS, TextPreviewItem
from sslcore.train import SUPERVISED, TrainConfig

APP = str(Path(__file__).resolve().parents[1] / "app.py")
pytestmark = pytest.mark.timeout(900)  # fifteen real runs under a shared, loaded machine
IMAGE = dict(dataset="shapes", n=48, batch_size=12, probe_size=10, budget=None, epochs=0.4)
TEXT = dict(dataset="corpus", n=60, batch_size=12, probe_size=10, budget=None, epochs=0.3)
ALL = [*TASKS, SUPERVISED]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One run of every task (one step or two: predictions need a head, not a good one)."""
    folder = tmp_path_factory.mktemp("predict")
    store = RunStore(folder)
    image = [t for t in ALL if t == SUPERVISED or TASKS[t].modality == "image"]
    text = [t for t in TASKS if TASKS[t].modality == "text"]
    store.submit_group([TrainConfig(task=t, **IMAGE) for t in image], owner="ada")
    store.submit_group([TrainConfig(task=t, **TEXT) for t in text], owner="ada")
    Worker(store).run(max_runs=len(ALL) + 2)
    runs = {r.task: r for r in store.list()}
    assert all(r.status == "succeeded" for r in runs.values()), [(r.task, r.error) for r in runs.values()]
    return folder, runs


@pytest.mark.parametrize("task", ALL)
def test_every_task_shows_its_prediction_beside_the_truth(finished, task):
    folder, runs = finished
    run = runs[task]
    shown = predict_run(RunStore(folder).run_dir(run.id), run.config, count=3)
    assert shown.items and 0 <= shown.correct <= shown.total and shown.total > 0
    assert all("network" in item.label for item in shown.items)
    text = TASKS[task].modality == "text" if task in TASKS else False
    assert all(isinstance(item, TextPreviewItem) == text for item in shown.items)
    marks = sum(item.label.count(RIGHT) for item in shown.items)
    if task in ("rotation", "jigsaw", "relative_position", "supervised", "sentence_order", "simclr", "simsiam"):
        assert marks == shown.correct  # one mark per example, and the count the page states agrees
        assert marks + sum(item.label.count(WRONG) for item in shown.items) == shown.total
    if task in ("colorization", "inpainting", "masked_image", "autoencoder", "simclr", "simsiam"):
        assert any("network" in view.caption or "nearest" in view.caption for view in shown.items[0].views)


def test_the_results_page_shows_predictions_for_every_task(finished, monkeypatch):
    folder, runs = finished
    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(folder))
    at = AppTest.from_file(APP, default_timeout=180)
    sign_in(at.run(), "ada")
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    for group in {r.group_id for r in runs.values()}:
        at.selectbox(key="comparison").set_value(group).run()
        for run in (r for r in runs.values() if r.group_id == group and r.task != "random_init"):
            at.selectbox(key="predict-run").set_value(run.id).run()
            assert not at.exception, (run.task, at.exception)
            assert not at.warning or all("predictions" not in w.value for w in at.warning), run.task
            shown = " ".join([m.value for m in at.markdown] + [h.proto.body for h in at.get("html")])
            assert "network" in shown, run.task
            assert any(c.proto.id.endswith(f"confusion-{run.id}") for c in at.get("plotly_chart")), run.task
