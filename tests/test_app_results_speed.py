"""Results answers fast because it does not redo what cannot change (issue 21): a finished run's files are read
once per server, downloads are made only when asked, and picking a map point or a predictions run reruns that
section alone. AppTest on real finished runs; the run's files are counted where the page reads them."""

import functools
import json
import shutil
from pathlib import Path

import pytest
import streamlit.testing.v1.local_script_runner as local_runner
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
from streamlit.testing.v1 import AppTest

from sslcore import lab
from sslcore.runs import RunStore, Worker
from sslcore.train import TrainConfig

APP = str(Path(__file__).resolve().parents[1] / "app.py")
pytestmark = pytest.mark.timeout(900)  # three real runs on a shared, loaded machine
TINY = dict(dataset="shapes", n=100, batch_size=16, probe_size=10, budget=None, epochs=2.5)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Rotation and supervised, and the random-init baseline the store adds, run to the end by a real worker."""
    folder = tmp_path_factory.mktemp("results-speed")
    store = RunStore(folder)
    store.submit_group([TrainConfig(task="rotation", **TINY), TrainConfig(task="supervised", **TINY)], owner="ada")
    Worker(store).run(max_runs=3)
    assert {r.status for r in store.list()} == {"succeeded"}, [(r.task, r.error) for r in store.list()]
    return folder


@pytest.fixture
def store(tmp_path, finished, monkeypatch):
    """A copy per test: its folder is new to this server's caches, as a comparison nobody has opened yet is."""
    folder = tmp_path / "data"
    shutil.copytree(finished, folder)
    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(folder))
    return RunStore(folder)


def counted(monkeypatch, name: str) -> list:
    """Every call of ``lab.<name>`` from now on (the real function still does the work), as its arguments."""
    calls, real = [], getattr(lab, name)

    @functools.wraps(real)
    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(lab, name, counting)
    return calls


def open_results() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    return at


def rerun_fragment(at: AppTest, key: str, *changed: WidgetState) -> AppTest:
    """What the server does when a widget inside the fragment ``@st.fragment(key=key)`` changes: it reruns that
    fragment alone, with every widget's state (AppTest itself always reruns the whole page). ``at``'s elements
    are then the ones that rerun drew."""
    fragment_ids = at._fragment_storage.resolve_target(key)  # raises when the page has no such fragment
    states = at._tree.get_widget_states()
    states.widgets.extend(changed)
    scoped = functools.partial(RerunData, fragment_id_queue=fragment_ids)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(local_runner, "RerunData", scoped)
        at._run(states)
    assert not at.exception, at.exception
    return at


def test_a_finished_runs_files_are_read_once_and_its_downloads_made_only_on_the_click(store, monkeypatch):
    embeddings = counted(monkeypatch, "load_embedding")
    weights, tsv = counted(monkeypatch, "weights_file"), counted(monkeypatch, "projector_tsv")
    maps = {str(store.run_dir(r.id)) for r in store.list() if r.task != lab.RANDOM_INIT}

    at = open_results()
    assert sorted(str(path) for (path,) in embeddings) == sorted(maps)  # each map's file, once
    at.run()
    open_results()  # another person's first visit
    assert len(embeddings) == len(maps), "a finished run's embedding was read again on a rerun"
    assert not weights and not tsv, "download files were made although nobody asked for them"
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels.count("vectors.tsv") == labels.count("weights.safetensors") == len(maps)
    assert "Results (CSV)" in labels


def selection_of_first_map(at: AppTest) -> WidgetState:
    """The state a click on a point of the first map sends: its ``customdata`` is the point's embedding row."""
    chart = next(c for c in at.get("plotly_chart") if "map-" in c.proto.id)
    point = {"curve_number": 0, "point_number": 0, "point_index": 0, "customdata": 3}
    state = WidgetState(id=chart.proto.id)
    state.string_value = json.dumps({"selection": {"points": [point], "point_indices": [0], "box": [], "lasso": []}})
    return state


def test_selecting_a_map_point_reruns_the_maps_alone(store, monkeypatch):
    at = open_results()
    maps = sum("map-" in c.proto.id for c in at.get("plotly_chart"))
    page_rows = counted(monkeypatch, "result_rows")  # the accuracy table's rows: made by the page, not the maps
    rerun_fragment(at, "map", selection_of_first_map(at))
    shown = [caption for element in at.get("image") for caption in element.captions]
    assert shown[0] == "selected" and shown[1] == "neighbour 1"  # the point and its neighbours
    drawn = [c.proto.id for c in at.get("plotly_chart")]
    assert len(drawn) == maps and all("map-" in i for i in drawn) and not at.subheader  # the maps, nothing else
    assert not page_rows, "a map selection reran the whole page"


def test_picking_a_predictions_run_reruns_the_predictions_alone(store, monkeypatch):
    at = open_results()
    box = at.selectbox(key="predict-run")
    other = next(r for r in store.list() if r.task != lab.RANDOM_INIT and r.id != box.value)
    box.set_value(other.id)
    page_rows = counted(monkeypatch, "result_rows")
    rerun_fragment(at, "predictions")
    assert {s.value for s in at.subheader} == {"What the trained network predicts"}
    assert any(f"confusion-{other.id}" in c.proto.id for c in at.get("plotly_chart"))  # the picked run's matrix
    assert not page_rows, "picking a predictions run reran the whole page"
