"""Explore's URL parser: anything a link carries is checked, nothing in it can crash the page."""

from hypothesis import given, settings
from hypothesis import strategies as st

from sslcore.tasks import TASKS, make_params, param_specs
from views.query import MAX_COUNT, RESERVED, SIZES, query_from_settings, settings_from_query, sources_for

KEYS = ["task", "source", "image_size", "size", "count", "seed", "grid", "gap", "angles", "mask_rate", "window", "negative", "x"]
VALUES = st.one_of(
    st.text(max_size=300),
    st.sampled_from([*TASKS, "shapes", "corpus", "paste", "upload", "-1", "1e309", "nan", "inf", "3", "0.15", "swap"]),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8))
@settings(max_examples=400, deadline=None)
def test_any_query_gives_valid_settings_or_notes(query):
    values, notes = settings_from_query(query)
    task = values["task"]
    assert task in TASKS
    if "size" in values:
        assert values["size"] in SIZES
    if "count" in values:
        assert 1 <= values["count"] <= MAX_COUNT
    if "seed" in values:
        assert 0 <= values["seed"] < 2**31
    for key in ("source", "text_source"):
        if key in values:
            assert values[key] in sources_for(task)
    knobs = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith(f"{task}.")}
    make_params(TASKS[task].Params, knobs)  # every knob kept from the URL is valid for the task
    assert all(isinstance(n, str) and len(n) < 400 for n in notes)


@given(st.sampled_from(list(TASKS)), st.integers(0, 2**31 - 1), st.integers(1, MAX_COUNT), st.sampled_from(SIZES))
@settings(max_examples=100, deadline=None)
def test_settings_survive_a_round_trip_through_the_url(task, seed, count, size):
    params = {s.name: s.default for s in param_specs(TASKS[task].Params)}
    source = next(iter(sources_for(task)))
    values, notes = settings_from_query(query_from_settings(task, source, size, count, seed, params))
    assert not notes
    assert values["task"] == task and values["seed"] == seed and values["count"] == count


def test_changed_knobs_are_in_the_url_and_read_back():
    query = query_from_settings("jigsaw", "shapes", 64, 2, 5, {"grid": 3, "gap": 1, "jitter": 0})
    assert query["grid"] == "3"
    values, notes = settings_from_query(query)
    assert values["jigsaw.grid"] == 3 and not notes


def test_bad_values_are_named():
    values, notes = settings_from_query({"task": "nope", "image_size": "33", "gap": "9", "count": "x" * 500})
    assert values["task"] == "rotation" and "size" not in values
    assert any("nope" in n for n in notes) and any("image_size" in n for n in notes)
    assert any("too long" in n for n in notes)


def test_no_task_knob_shadows_a_page_setting_in_the_url():
    knobs = {spec.name for cls in TASKS.values() for spec in param_specs(cls.Params)}
    assert not knobs & set(RESERVED)
