"""Task design in the app: the custom-task builder on Explore, its link, its saved designs on Train."""

from pathlib import Path

import pytest
from signing import sign_in
from streamlit.testing.v1 import AppTest

from sslcore.custom_tasks import CustomTaskStore
from sslcore.tasks.custom import FLIP_TASK, decode_definition, encode_definition, parse_definition

TIMEOUT = 90
ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
EXPLORE = str(ROOT / "views" / "explore.py")


@pytest.fixture
def builder():
    at = sign_in(AppTest.from_file(APP, default_timeout=TIMEOUT).run(), "ada")
    at.switch_page("views/explore.py").run()
    at.sidebar.selectbox(key="task").set_value("custom").run()
    assert not at.exception, at.exception
    return at


def labels(at):
    return [m.value for m in at.markdown if m.value.startswith("**") and "→" in m.value]


def test_the_builder_previews_the_default_flip_task(builder):
    shown = labels(builder)
    assert len(shown) == 4 and all("class" in s for s in shown)
    assert builder.query_params["task"] == "custom"
    assert decode_definition(builder.query_params["design"]) == FLIP_TASK


def test_changing_the_design_changes_the_preview_and_a_bad_one_is_a_message(builder):
    builder.sidebar.radio(key="custom.target").set_value("amount").run()
    builder.sidebar.multiselect(key="custom.transforms").set_value(["hue"]).run()
    assert not builder.exception, builder.exception
    assert any("targets" in s for s in labels(builder))
    builder.sidebar.multiselect(key="custom.transforms").set_value([]).run()
    assert not builder.exception
    assert any("at least one transformation" in e.value for e in builder.sidebar.error)


def test_a_design_in_the_link_opens_and_a_malformed_one_is_refused_with_a_message():
    definition = parse_definition('{"name": "Colour", "target": "which", "transforms": ["hue", "grayscale"]}')
    at = AppTest.from_file(EXPLORE, default_timeout=TIMEOUT)
    at.query_params.update({"task": "custom", "design": encode_definition(definition), "count": "2"})
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.text_input(key="custom.name").value == "Colour"
    assert len(labels(at)) == 2
    bad = AppTest.from_file(EXPLORE, default_timeout=TIMEOUT)
    bad.query_params.update({"task": "custom", "design": "eyJuYW1lIjogMX0"})  # {"name": 1}
    bad.run()
    assert not bad.exception, bad.exception
    assert any("ignored the custom task in the link" in w.value for w in bad.warning)


def test_a_saved_design_is_offered_on_train_for_its_owner(builder):
    builder.sidebar.text_input(key="custom.name").set_value("My flip").run()
    next(b for b in builder.sidebar.button if "Save" in b.label).click().run()
    assert not builder.exception, builder.exception
    saved = CustomTaskStore().all()
    assert [t.name for t in saved] == ["My flip"]
    builder.switch_page("views/train.py").run()
    assert not builder.exception, builder.exception
    options = builder.multiselect(key="tasks_image").options
    assert any("My flip" in o for o in options)


def test_a_malformed_design_file_is_refused_with_a_message_and_a_good_one_loads(builder):
    uploader = builder.sidebar.get("file_uploader")[0]
    uploader.set_value([("bad.json", b'{"name": "x", "target": "which", "transforms": ["warp"]}', "application/json")])
    builder.run()
    assert not builder.exception, builder.exception
    assert any("bad.json" in e.value and "unknown transformation 'warp'" in e.value for e in builder.sidebar.error)
    good = b'{"name": "Colour shift", "target": "which", "transforms": ["hue"]}'
    builder.sidebar.get("file_uploader")[0].set_value([("good.json", good, "application/json")])
    builder.run()
    assert builder.sidebar.text_input(key="custom.name").value == "Colour shift"


def test_the_builder_says_why_a_which_range_through_nothing_applied_is_refused(builder):
    """Issue 21 (10): picking hue for 'which' starts on one side of 0; widening it through 0 is refused in words."""
    builder.sidebar.multiselect(key="custom.transforms").set_value(["hue"]).run()
    assert not builder.exception and not builder.sidebar.error, [e.value for e in builder.sidebar.error]
    low, high = builder.sidebar.slider(key="custom.range.hue").value
    assert low > 0 and labels(builder)
    builder.sidebar.slider(key="custom.range.hue").set_value((-0.5, 0.5)).run()
    assert any("includes 0 (unchanged)" in e.value for e in builder.sidebar.error)


def test_the_teacher_sees_a_students_saved_design_and_publishes_it(monkeypatch):
    """Issue 21 (11): a student's saved design was not in the teacher's list, so the teacher could not publish it."""
    monkeypatch.setenv("PRETEXT_LAB_TEACHER_TOKEN", "class-of-2026")
    from sslcore.paths import data_dir

    store = CustomTaskStore(data_dir())
    ada = store.save(parse_definition('{"name": "Ada flips", "target": "which", "transforms": ["vflip"]}'), "Ada")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/explore.py").run()
    at.sidebar.selectbox(key="task").set_value("custom").run()
    assert not any("Ada flips" in o for o in at.sidebar.selectbox(key="custom.pick").options)  # not published
    at.sidebar.text_input(key="teacher_token").input("class-of-2026").run()
    pick = at.sidebar.selectbox(key="custom.pick")
    assert any("Ada flips" in o and "Ada" in o.split("Ada flips", 1)[1] for o in pick.options), pick.options
    pick.set_value(ada.id).run()
    assert not at.exception, at.exception
    publish = next(b for b in at.sidebar.button if "Publish" in b.label)
    publish.click().run()
    assert store.get(ada.id).published
    assert any("Published 'Ada flips'" in c.value for c in at.sidebar.caption)
