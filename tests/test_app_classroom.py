"""The classroom pages with AppTest on real finished runs: owners, numbers with context, seeds, predictions."""

import shutil
from pathlib import Path

import pytest
from signing import sign_in
from streamlit.testing.v1 import AppTest

from sslcore.runs import TEACHER_TOKEN_ENV, RunStore, Worker
from sslcore.train import TrainConfig

APP = str(Path(__file__).resolve().parents[1] / "app.py")
pytestmark = pytest.mark.timeout(900)  # six real runs on a shared, loaded machine
TIMEOUT = 120
# 100 shapes: 75 train images in batches of 16 → 4 steps per epoch; 2.5 epochs = 10 steps; 25 test images
TINY = dict(dataset="shapes", n=100, batch_size=16, probe_size=10, budget=None, epochs=2.5)


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """Alice's comparison (rotation over two seeds, 10 steps each) and Bob's (SimCLR), run by a real worker."""
    folder = tmp_path_factory.mktemp("classroom")
    store = RunStore(folder)
    alice, _ = store.submit_group([TrainConfig(task="rotation", seed=s, **TINY) for s in (0, 1)], owner="alice")
    bob, _ = store.submit_group([TrainConfig(task="simclr", **TINY)], owner="bob")
    Worker(store).run(max_runs=6)
    runs = store.list()
    assert {r.status for r in runs} == {"succeeded"}, [(r.task, r.error) for r in runs]
    return folder, alice, bob


@pytest.fixture
def data(tmp_path, classroom, monkeypatch):
    folder = tmp_path / "data"
    shutil.copytree(classroom[0], folder)
    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(folder))
    return RunStore(folder), classroom[1], classroom[2]


def results_as(name: str | None, token: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if name:
        sign_in(at, name)
    if token:
        at.sidebar.text_input(key="teacher_token").input(token).run()
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    return at


def test_results_open_on_your_own_comparison_and_show_others_on_request(data):
    store, alice, bob = data
    at = results_as("alice")
    assert at.selectbox(key="comparison").value == alice
    at = results_as("bob")
    assert at.selectbox(key="comparison").value == bob
    at.selectbox(key="comparison").set_value(alice).run()  # everyone may look at everyone's runs
    assert not at.exception, at.exception
    assert any("rotation" in c.proto.spec for c in at.get("plotly_chart"))


def test_a_10_step_run_on_25_test_images_is_flagged_with_its_reason(data):
    store, alice, _ = data
    at = results_as("alice")
    warnings = " ".join(w.value for w in at.warning)
    assert "10 steps: too little training to learn the task" in warnings
    assert "25 test images: ±10 points by chance alone" in warnings
    for run in store.list(group_id=alice):
        if run.task == "rotation" and run.results["linear_probe"] < run.results["baseline"]["linear_probe"]:
            assert "Below random init" in warnings  # and the reasons above say why
    table = at.dataframe[0].value
    rotation = table[table["run"].str.startswith("rotation")]["rests on"]
    assert len(rotation) == 2 and rotation.str.match(r"10 steps · 160 images seen · 2[45] test images · chance 8.3%").all()
    baselines = table[table["run"].str.startswith("random init")]["rests on"]
    assert len(baselines) == 2 and baselines.str.startswith("untrained · ").all()  # one baseline per seed


def test_seed_spread_and_chance_are_drawn(data):
    at = results_as("alice")
    spec = next(c for c in at.get("plotly_chart") if "random init (baseline)" in c.proto.spec).proto.spec
    assert '"error_y"' in spec and '"visible":true' in spec.replace(" ", "")
    assert "each seed" in spec and "chance 8.3% (12 classes)" in spec
    assert any("mean over 2 seeds" in c.value for c in at.caption)


def test_pretext_chart_uses_one_labelled_scale(data):
    at = results_as("bob")
    spec = next(c for c in at.get("plotly_chart") if c.proto.id.endswith("pretext-vs-probe"))
    text = spec.proto.spec
    assert "0 = chance, 1 = perfect" in text and "linear probe accuracy (%)" in text
    assert any("Common scale" in c.value and "simclr: 0 = chance" in c.value for c in at.caption)


def test_predictions_and_confusion_matrix_for_a_finished_run(data):
    at = results_as("bob")
    text = " ".join(m.value for m in at.markdown)
    assert "network: nearest to view 1 is" in text
    assert any("held-out test examples" in c.value for c in at.caption)
    heat = next(c for c in at.get("plotly_chart") if "confusion-" in c.proto.id)
    assert "test examples right" in heat.proto.spec


def test_only_the_owner_sees_cancel_and_delete_and_the_teacher_sees_all(data, monkeypatch):
    monkeypatch.setenv(TEACHER_TOKEN_ENV, "class-of-2026")
    store, alice, bob = data
    def delete_buttons(at):
        return [b for b in at.button if b.label == "Delete"]

    at = sign_in(AppTest.from_file(APP, default_timeout=TIMEOUT).run(), "bob")
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    bobs = {r.id for r in store.list(group_id=bob)}
    assert {b.key.removeprefix("delete-") for b in delete_buttons(at)} == bobs
    at.sidebar.text_input(key="teacher_token").input("class-of-2026").run()
    assert len(delete_buttons(at)) == len(store.list())
    assert any("Teacher mode" in s.value for s in at.sidebar.success)
    next(b for b in delete_buttons(at) if b.key.removeprefix("delete-") not in bobs).click().run()
    assert not at.exception, at.exception
    assert len(store.list()) == 5


def test_the_teacher_pins_a_class_reference_everyone_sees(data, monkeypatch):
    monkeypatch.setenv(TEACHER_TOKEN_ENV, "class-of-2026")
    store, alice, bob = data
    at = results_as("teacher", token="class-of-2026")
    at.selectbox(key="comparison").set_value(bob).run()
    next(b for b in at.button if "Pin as the class reference" in b.label).click().run()
    assert store.reference_group() == bob
    carol = results_as("carol")  # no runs of her own: the class reference opens first
    assert carol.selectbox(key="comparison").value == bob
    assert not [b for b in carol.button if "Pin" in b.label]
    assert results_as("alice").selectbox(key="comparison").value == alice
