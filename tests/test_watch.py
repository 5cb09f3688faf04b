"""What a watching Train page costs: live charts only for the running run, from a bounded number of points,
and no polling while nothing is queued or running (benchmarks/watch_cost.py measures the speed it saves)."""

import json
import os
import threading
from pathlib import Path

import pytest
import streamlit
from signing import sign_in
from streamlit.testing.v1 import AppTest

from sslcore.records import Progress
from sslcore.runs import RunStore
from sslcore.train import TrainConfig
from views import charts

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120
TINY = dict(dataset="shapes", n=100, batch_size=16, probe_size=10, budget=None, epochs=2.5)
RESULTS = {  # what the Train page's caption of a finished run reads
    "status": "finished",
    "task": "rotation",
    "device": "cpu",
    "steps": 10,
    "images_seen": 160,
    "flops": 1e9,
    "wall_s": 1.0,
    "test_images": 500,
    "linear_probe": 0.6,
    "knn": 0.5,
    "baseline": {"linear_probe": 0.3, "knn": 0.3},
}


# -- downsample ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 3, 199, 200, 201, 1000, 12_345])
@pytest.mark.parametrize("limit", [2, 3, 200])
def test_downsample_keeps_the_first_and_last_and_is_bounded(n, limit):
    items = list(range(n))
    out = charts.downsample(items, limit)
    assert len(out) == min(n, limit)
    if n <= limit:
        assert out == items
    else:
        assert out[0] == 0 and out[-1] == n - 1  # the newest point is always drawn
        assert all(a < b for a, b in zip(out, out[1:]))  # in order, none twice
        gaps = [b - a for a, b in zip(out, out[1:])]
        assert max(gaps) - min(gaps) <= 1  # evenly spread


def test_downsample_refuses_a_limit_that_cannot_keep_both_ends():
    with pytest.raises(ValueError):
        charts.downsample([1, 2, 3], 1)


def steps(n: int) -> list[Progress]:
    return [Progress(kind="step", step=i, loss=1 / (i + 1), metric=i / n, elapsed=0.1 * i) for i in range(n)]


def test_live_charts_draw_at_most_live_points_and_the_newest_one():
    events = steps(5000) + [Progress(kind="probe", knn=0.1 * i, elapsed=float(i)) for i in range(300)]
    loss = charts.training_curves(events)
    assert all(len(trace.x) == charts.LIVE_POINTS for trace in loss.data)
    assert loss.data[0].x[-1] == events[4999].elapsed and loss.data[0].y[-1] == events[4999].loss
    knn = charts.knn_during_run(events)
    assert len(knn.data[0].x) == charts.LIVE_POINTS and knn.data[0].y[-1] == 100 * events[-1].knn
    short = charts.training_curves(steps(7))
    assert len(short.data[0].x) == 7  # short runs are drawn whole


# -- the store's cheap "anything new?" read ---------------------------------------------------------------------
def test_last_seq_is_the_newest_event_of_that_run_only(tmp_path):
    store = RunStore(tmp_path)
    a, b = (store.submit(TrainConfig(task="rotation", **TINY)) for _ in range(2))
    assert store.last_seq(a) == 0  # nothing yet
    for i in range(3):
        store.add_event(a, {"kind": "step", "step": i})
    store.add_event(b, {"kind": "start"})
    assert store.last_seq(a) == 3 == store.events_since(a)[-1]["seq"]
    assert store.last_seq(b) == 1
    assert store.events_since(a, store.last_seq(a)) == []  # so a page that has seen seq 3 has nothing to read
    store.delete(a)
    assert store.last_seq(a) == 0


# -- the Train page ------------------------------------------------------------------------------------------------
def finish(store: RunStore, run_id: str, events: int) -> None:
    for i in range(events):
        store.add_event(run_id, {"kind": "step", "step": i, "loss": 1.0, "metric": 0.5, "elapsed": 0.1 * i}, True)
    store.finish(run_id, "succeeded", results=RESULTS)


@pytest.fixture
def comparison(tmp_path, monkeypatch):
    """Alice's comparison as the worker leaves it midway: random init and rotation finished (rotation with
    events), jigsaw running with 500 step events and a probe, simclr queued. A thread beats for the running one."""
    data = tmp_path / "data"
    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(data))
    store = RunStore(data)
    tasks = ("rotation", "jigsaw", "simclr")
    group, ids = store.submit_group([TrainConfig(task=t, **TINY) for t in tasks], owner="alice")  # + random init
    store.register_worker("w-test", os.getpid(), "cpu")
    claimed = [store.claim("w-test").id for _ in range(3)]
    assert claimed == [ids[3], ids[0], ids[1]]  # random init first, then in order
    running, stop = ids[1], threading.Event()

    def beat():  # the page reaps a running run whose worker has not beaten for 10 s
        while not stop.wait(1):
            store.beat("w-test", [running])

    beater = threading.Thread(target=beat)
    beater.start()
    finish(store, ids[3], 0)
    finish(store, ids[0], 40)
    for i in range(500):
        store.add_event(
            running,
            {
                "kind": "step",
                "step": i,
                "loss": 2.0 - i / 500,
                "metric": i / 500,
                "elapsed": 0.1 * i,
                "progress": i / 1000,
                "images_per_s": 300.0,
                "eta": 50.0,
            },
            progress=True,
        )
    store.add_event(running, {"kind": "probe", "step": 250, "knn": 0.4, "elapsed": 25.0})
    yield store, ids
    stop.set()
    beater.join()


@pytest.fixture
def intervals(monkeypatch):
    """The run_every of every fragment the pages define, by function name."""
    seen: list[tuple[str, object]] = []
    real = streamlit.fragment

    def spy(func=None, *, run_every=None, **kwargs):
        def define(f):
            seen.append((f.__name__, run_every))
            return real(f, run_every=run_every, **kwargs)

        return define if func is None else define(func)

    monkeypatch.setattr(streamlit, "fragment", spy)
    return seen


def train_page(name: str) -> AppTest:
    at = sign_in(AppTest.from_file(APP, default_timeout=TIMEOUT).run(), name)
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    return at


def test_only_the_running_run_has_live_charts_from_at_most_live_points(comparison, intervals):
    store, (done, running, queued, baseline) = comparison
    at = train_page("alice")
    assert store.get(running).status == "running", store.get(running).error
    drawn = [c.proto.id for c in at.get("plotly_chart")]
    assert len(drawn) == 2, drawn  # none for the finished run, though it has events too
    assert drawn[0].endswith(f"loss-{running}") and drawn[1].endswith(f"knn-{running}"), drawn
    loss = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(loss["data"][0]["x"]) == charts.LIVE_POINTS and loss["data"][0]["x"][-1] == pytest.approx(49.9)
    text = " ".join(c.value for c in at.caption)  # each card's details line ends with its run id
    assert all(f"run id {run_id}" in text for run_id in (done, running, queued, baseline))  # every run has its card
    assert any("linear probe 60.0%" in c.value for c in at.caption)  # finished: a one-line caption
    assert ("live_queue", 2) in intervals and ("live_charts", 10) in intervals  # runs are unfinished: both poll


def test_an_idle_train_page_does_not_poll(comparison, intervals):
    store, (done, running, queued, baseline) = comparison
    store.cancel(queued, by="alice")
    store.finish(running, "succeeded", results=RESULTS)
    at = train_page("alice")
    assert sorted(intervals) == [("live_charts", None), ("live_queue", None)]
    assert not at.get("plotly_chart")
    assert any("does not refresh by itself" in c.value for c in at.caption)
    text = " ".join(c.value for c in at.caption)  # each card's details line ends with its run id
    assert all(f"run id {run_id}" in text for run_id in (done, running, queued, baseline))
    # once something is queued again (here by Bob), Refresh finds it and the page polls again
    store.submit(TrainConfig(task="rotation", **TINY), owner="bob")
    next(b for b in at.button if b.key == "refresh_queue").click().run()
    assert not at.exception, at.exception
    assert intervals[-2:] == [("live_queue", 2), ("live_charts", 10)]


def test_a_run_without_probes_gets_its_loss_chart_alone(tmp_path, monkeypatch):
    """A fine-tune probes nothing while it trains: no empty kNN chart beside its loss."""
    data = tmp_path / "data"
    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(data))
    store = RunStore(data)
    _, ids = store.submit_group([TrainConfig(task="rotation", **TINY)], owner="alice")  # + random init
    store.register_worker("w-test", os.getpid(), "cpu")
    assert [store.claim("w-test").id for _ in range(2)] == [ids[1], ids[0]]
    finish(store, ids[1], 0)
    for i in range(20):
        store.add_event(ids[0], {"kind": "step", "step": i, "loss": 1.0, "metric": 0.5, "elapsed": 0.1 * i,
                                 "progress": i / 40, "images_per_s": 300.0, "eta": 5.0}, progress=True)  # fmt: skip
    store.beat("w-test", [ids[0]])
    at = train_page("alice")
    drawn = [c.proto.id for c in at.get("plotly_chart")]
    assert len(drawn) == 1 and drawn[0].endswith(f"loss-{ids[0]}"), drawn
