"""The Streamlit pages, run headless with AppTest: they render real previews and report bad uploads."""

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from signing import sign_in
from streamlit.testing.v1 import AppTest

TIMEOUT = 60
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def png_bytes(colour=(200, 30, 30), size=(40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def explore():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/explore.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_home_lists_every_task():
    from sslcore.tasks import TASKS

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    for cls in TASKS.values():
        assert cls.title in text


def test_explore_shows_a_preview_for_the_default_task(explore):
    labels = [m.value for m in explore.markdown if m.value.startswith("**rotated")]
    assert len(labels) == 4 * 4  # 4 images, each in all 4 rotations
    assert len(explore.get("image")) == 2 * len(labels)  # each original beside its network input


@pytest.mark.parametrize("task", ["jigsaw", "relative_position", "simclr", "masked_image"])
def test_switching_task_and_knobs_changes_the_preview(explore, task):
    explore.sidebar.selectbox(key="task").set_value(task).run()
    assert not explore.exception, explore.exception
    assert not explore.error
    assert any(m.value.startswith("**") for m in explore.markdown)


def test_jigsaw_with_grid_3_reports_the_permutation(explore):
    explore.sidebar.selectbox(key="task").set_value("jigsaw").run()
    explore.sidebar.selectbox(key="jigsaw.grid").set_value(3).run()
    assert any("permutation" in m.value and "tiles" in m.value for m in explore.markdown)


def test_a_setting_that_cannot_work_is_a_clear_message(explore):
    explore.sidebar.selectbox(key="task").set_value("jigsaw").run()
    explore.sidebar.selectbox(key="jigsaw.grid").set_value(3).run()
    explore.sidebar.select_slider[0].set_value(32).run()
    explore.sidebar.slider(key="jigsaw.gap").set_value(16).run()
    assert not explore.exception
    assert any("too small" in e.value for e in explore.error)


def previews_for_upload(at, files):
    at.sidebar.radio[0].set_value("upload").run()
    at.get("file_uploader")[0].set_value(files).run()
    assert not at.exception, at.exception
    return [m.value for m in at.markdown if m.value.startswith("**rotated")]


def test_upload_one_bad_file_among_good_ones(explore):
    labels = previews_for_upload(
        explore,
        [
            ("good.png", png_bytes(), "image/png"),
            ("notes.png", b"this is text, not a picture", "image/png"),
            ("blue.png", png_bytes((0, 0, 255)), "image/png"),
        ],
    )
    errors = [e.value for e in explore.error]
    assert len(errors) == 1 and "notes.png" in errors[0]
    assert len(labels) == 2 * 4  # both good images, in all four rotations


def test_upload_a_zip_of_images(explore):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("cats/a.png", png_bytes())
        archive.writestr("dogs/b.png", png_bytes((0, 200, 0)))
        archive.writestr("../evil.png", png_bytes())
    labels = previews_for_upload(explore, [("pets.zip", buf.getvalue(), "application/zip")])
    assert len(labels) == 2 * 4
    assert any("evil.png" in e.value for e in explore.error)


def test_upload_with_nothing_usable_explains_itself(explore):
    labels = previews_for_upload(explore, [("empty.png", b"", "image/png")])
    assert labels == []
    assert any("empty.png" in e.value and "empty" in e.value for e in explore.error)


def wait_until(predicate, timeout: float):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def test_train_submits_a_run_a_real_worker_finishes_it_and_results_show_it():
    from sslcore.runs import RunStore

    at = sign_in(AppTest.from_file(APP, default_timeout=TIMEOUT).run(), "ada")
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    at.multiselect(key="tasks_image").set_value(["rotation"])
    at.checkbox[0].set_value(False)  # no supervised reference: keep the test short
    at.slider(key="budget").set_value(2)
    next(n for n in at.number_input if n.label.startswith("Dataset size")).set_value(100)
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception, at.exception
    assert any("Queued 2 runs" in s.value for s in at.success)

    store = RunStore()
    assert wait_until(lambda: all(r.done for r in store.list()), 180), [(r.status, r.error) for r in store.list()]
    assert {r.status for r in store.list()} == {"succeeded"}
    at.run()
    assert any("✅ **rotation**" in m.value for m in at.markdown)

    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    charts = at.get("plotly_chart")
    accuracy = next(c for c in charts if "random init (baseline)" in c.proto.spec)
    assert "rotation" in accuracy.proto.spec
    assert any(d.proto.label == "Results (CSV)" for d in at.get("download_button"))


def test_results_without_runs_points_to_train():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("views/results.py").run()
    assert not at.exception
    assert any("No finished runs yet" in i.value for i in at.info)


EXPLORE = str(Path(__file__).resolve().parents[1] / "views" / "explore.py")


def test_settings_in_the_url_open_the_same_view_and_bad_ones_are_ignored():
    at = AppTest.from_file(EXPLORE, default_timeout=TIMEOUT)
    at.query_params.update({"task": "jigsaw", "grid": "3", "gap": "99", "seed": "5", "image_size": "32", "count": "2"})
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="task").value == "jigsaw"
    assert at.sidebar.selectbox(key="jigsaw.grid").value == 3
    assert at.sidebar.slider(key="jigsaw.gap").value == 2  # 99 is out of range: the default stays
    assert any("gap" in w.value and "maximum" in w.value for w in at.warning)
    labels = [m.value for m in at.markdown if m.value.startswith("**permutation")]
    assert len(labels) == 2 and all(len(label.split("tiles ")[1].split()) == 9 for label in labels)
    # the URL follows the widgets
    at.sidebar.slider(key="jigsaw.gap").set_value(1).run()
    assert at.query_params["gap"] == "1" and at.query_params["task"] == "jigsaw"
    assert at.query_params["seed"] == "5"


def test_same_url_gives_the_same_preview():
    def labels():
        at = AppTest.from_file(EXPLORE, default_timeout=TIMEOUT)
        at.query_params.update({"task": "relative_position", "seed": "11"})
        at.run()
        return [m.value for m in at.markdown if m.value.startswith("**patch")]

    first = labels()
    assert first and labels() == first


def test_quick_comparison_queues_a_group_and_opens_train():
    from sslcore.runs import RunStore

    at = sign_in(AppTest.from_file(APP, default_timeout=TIMEOUT).run(), "ada")
    assert len(at.get("image")) == 9  # a live preview thumbnail per task
    next(b for b in at.button if b.label.startswith("⚡ Quick comparison")).click().run()
    assert not at.exception, at.exception
    store = RunStore()
    runs = store.list()
    try:
        from sslcore.plans import QUICK_TASKS

        expected = sorted(["finetune"] * 4 + [*QUICK_TASKS, "random_init", "supervised"])
        assert sorted(r.task for r in runs) == expected
        assert len({r.group_id for r in runs}) == 1
        tuned = sorted(r.config["init_from"] or "" for r in runs if r.task == "finetune")
        pretext = sorted(r.id for r in runs if r.task in QUICK_TASKS)
        assert tuned == ["", *pretext]  # each task fine-tuned on 10 labels, and supervised from scratch on 10
        assert {r.config["labels_per_class"] for r in runs if r.task == "finetune"} == {10}
        first_tune = min(r.created for r in runs if r.task == "finetune")
        assert all(r.created < first_tune for r in runs if r.task != "finetune")  # sources run first
        assert min(runs, key=lambda r: r.created).task == "random_init"  # the baseline first: every lesson needs it
        # exactly the plan `compare --quick` runs (sslcore.plans): the same configs, in the same order
        from sslcore.plans import quick_finetunes, quick_runs

        queued = sorted((r for r in runs if r.task != "random_init"), key=lambda r: r.created)
        plan = quick_runs()
        ids = [r.id for r in queued[: len(plan)]]
        planned = [c.to_dict() for c in [*plan, *quick_finetunes(plan, ids)]]
        assert [r.config for r in queued] == planned
        assert any(m.value.startswith("🏋️ Train") or "Queue" in m.value for m in [*at.title, *at.subheader])
    finally:
        for run in runs:
            store.cancel(run.id, by=run.owner)


def test_a_damaged_run_store_is_a_message_on_every_page_and_explore_still_works():
    from sslcore.paths import data_dir

    store_file = data_dir() / "runs.sqlite"
    store_file.parent.mkdir(parents=True, exist_ok=True)
    store_file.write_bytes(b"this is not a database" * 100)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    assert any("Background runs are unavailable" in e.value for e in at.sidebar.error)
    at.switch_page("views/explore.py").run()
    assert not at.exception, at.exception
    assert any(m.value.startswith("**rotated") for m in at.markdown)  # previews need no store
    for page in ("views/train.py", "views/results.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert any("run store cannot be" in e.value for e in at.error), page


def test_train_queues_runs_with_the_backbone_size_a_person_chose():
    from sslcore.artifacts import load_backbone
    from sslcore.runs import RunStore

    at = sign_in(AppTest.from_file(APP, default_timeout=TIMEOUT).run(), "ada")
    at.switch_page("views/train.py").run()
    at.multiselect(key="tasks_image").set_value(["rotation"])
    at.checkbox[0].set_value(False)
    at.slider(key="budget").set_value(2)
    next(n for n in at.number_input if n.label.startswith("Dataset size")).set_value(100)
    at.text_input(key="backbone_args_image").set_value("width=8")  # small_cnn takes widths, not width
    next(b for b in at.button if b.label == "Start").click().run()
    assert any("takes no argument 'width'" in e.value and "widths" in e.value for e in at.error), [e.value for e in at.error]
    assert RunStore().list() == []  # nothing queued

    at.text_input(key="backbone_args_image").set_value("widths=8,16,32")
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception, at.exception
    assert any("Queued 2 runs" in s.value for s in at.success)
    store = RunStore()
    assert {tuple(r.config["backbone_args"]["widths"]) for r in store.list()} == {(8, 16, 32)}  # baseline too
    assert wait_until(lambda: all(r.done for r in store.list()), 180), [(r.status, r.error) for r in store.list()]
    trained = next(r for r in store.list() if r.task == "rotation")
    assert trained.status == "succeeded", trained.error
    assert load_backbone(store.run_dir(trained.id)).feature_dim == 32  # the weights reload as the size chosen


def test_explore_keeps_the_image_size_through_text_tasks():
    """Issue 21 (8): open ?image_size=96, pick Sentence order, then Skip-gram, then Rotation: the slider, the URL
    and the preview must agree on one size, the one the person chose (the slider was removed for text tasks, and
    came back at another value than the URL's)."""
    at = AppTest.from_file(EXPLORE, default_timeout=TIMEOUT)
    at.query_params.update({"image_size": "96"})
    at.run()
    for task in ("sentence_order", "skip_gram", "rotation"):
        at.sidebar.selectbox(key="task").set_value(task).run()
        assert not at.exception, at.exception
    assert at.sidebar.select_slider(key="size").value == 96
    assert at.query_params["image_size"] == "96"
    assert at.session_state["size"] == 96
    at.sidebar.button[0].click().run()  # the next click (a new draw) changes nothing of it
    assert at.sidebar.select_slider(key="size").value == 96 and at.query_params["image_size"] == "96"
