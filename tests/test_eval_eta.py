"""Issue 21 (12): the evaluation phase (25-40 s per run here) had no ETA. The Train card now says how long it has
been evaluating and, from how long the last evaluations of runs like it took on this store, about how long is left.
"""

import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sslcore.runs import RunStore, evaluation_phase
from sslcore.train import TrainConfig

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TINY = dict(dataset="shapes", n=100, batch_size=16, probe_size=10, budget=None, epochs=2.5)
RESULTS = {"status": "finished", "task": "rotation", "linear_probe": 0.6, "knn": 0.5, "baseline": {"linear_probe": 0.3}}


class Clock:
    """The store's clock, moved by hand: an evaluation that took 30 s without waiting 30 s."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def evaluated(store: RunStore, config: TrainConfig, seconds: float, clock: Clock) -> str:
    """A run that trained, was evaluated for ``seconds`` (its "evaluating" event to its end), and succeeded."""
    run_id = store.submit(config, owner="ada")
    store.register_worker("w-test", os.getpid(), "cpu")
    assert store.claim("w-test").id == run_id
    store.add_event(run_id, {"kind": "step", "step": 1, "loss": 1.0}, progress=True)
    store.add_event(run_id, {"kind": "evaluating"}, progress=True)
    clock.now += seconds
    store.finish(run_id, "succeeded", results=RESULTS)
    clock.now += 5
    return run_id


@pytest.fixture
def store(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(data))
    return RunStore(data)


def test_the_estimate_comes_from_past_evaluations_of_runs_like_it(store, monkeypatch):
    clock = Clock(time.time() - 1000)
    with monkeypatch.context() as m:
        m.setattr(time, "time", clock)
        for seconds in (28.0, 32.0, 30.0):
            evaluated(store, TrainConfig(task="rotation", **TINY), seconds, clock)
        evaluated(store, TrainConfig(task="jigsaw", **{**TINY, "n": 400}), 90.0, clock)  # another size: not alike
        now = store.get(store.submit(TrainConfig(task="simclr", **TINY), owner="ada")).id
        assert store.claim("w-test").id == now
        before, _ = evaluation_phase(store, store.get(now))
        assert before is None  # not evaluating yet: nothing to say
        store.add_event(now, {"kind": "evaluating"}, progress=True)
        clock.now += 10
        fraction, words = evaluation_phase(store, store.get(now))
    assert fraction == pytest.approx(10 / 30)
    assert "10 s so far" in words and "about 20 s left" in words and "3 evaluations" in words and "28–32 s" in words
    # past every earlier one: no made-up number, the facts
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: clock.now + 40)
        fraction, words = evaluation_phase(store, store.get(now))
    assert fraction < 1 and "50 s so far" in words and "longer than" in words


def test_with_nothing_alike_finished_the_card_says_so_instead_of_guessing(store):
    run_id = store.submit(TrainConfig(task="rotation", **TINY), owner="ada")
    store.register_worker("w-test", os.getpid(), "cpu")
    store.claim("w-test")
    store.add_event(run_id, {"kind": "evaluating"}, progress=True)
    fraction, words = evaluation_phase(store, store.get(run_id))
    assert "so far" in words and "no evaluation of a run like it has finished here yet" in words
    assert "left" not in words


def test_the_train_card_of_an_evaluating_run_shows_its_estimate(store, monkeypatch):
    clock = Clock(time.time() - 1000)
    with monkeypatch.context() as m:
        m.setattr(time, "time", clock)
        evaluated(store, TrainConfig(task="rotation", **TINY), 900.0, clock)  # longer than the page takes to open
    run_id = store.submit(TrainConfig(task="simclr", **TINY), owner="ada")
    store.claim("w-test")
    store.add_event(run_id, {"kind": "evaluating"}, progress=True)
    store.beat("w-test", [run_id])
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    bars = [p.proto.text for p in at.get("progress")]
    assert any("evaluating" in b and "s left" in b and "last evaluation of a run like it" in b for b in bars), bars
