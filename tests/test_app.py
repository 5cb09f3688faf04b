"""The Streamlit pages, run headless with AppTest: they render real previews and report bad uploads."""

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image
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
    at.switch_page("pages/explore.py")
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
