"""Runs on a real Ray cluster (one local cluster for the whole session, token authentication on).

Ray is optional (requirements-ray.txt): without it these tests skip. The cluster declares one GPU, so
GPU scheduling (fractional requests, two runs sharing it) is tested on a CPU-only machine; the runs
themselves train on the CPU.
"""

import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from test_runs import wait_for

ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt to run these tests")

from sslcore import artifacts  # noqa: E402
from sslcore.runs import RunStore, Worker  # noqa: E402
from sslcore.runs.ray_executor import RUNTIME_ENV, RayExecutor  # noqa: E402
from sslcore.train import TrainConfig  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # real clusters on a shared 2-core machine: Ray workers import torch
ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(dataset="shapes", n=64, batch_size=16, probe_every=0.5, probe_size=20, device="cpu")
APP = str(ROOT / "app.py")


def config(task="rotation", budget=1.0, **changes) -> TrainConfig:
    return TrainConfig(task=task, budget=budget, **{**SMALL, **changes})


@pytest.fixture(scope="session")
def cluster():
    """A local Ray cluster: 2 CPUs and one declared GPU, with a token of this session (never ~/.ray)."""
    token = os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))
    ray.init(
        address="local",  # always a new cluster of its own, never one already running on this machine
        num_cpus=2,
        num_gpus=1,
        include_dashboard=False,
        object_store_memory=150 * 2**20,
        runtime_env=RUNTIME_ENV,
        namespace="pretext-lab-tests",
        log_to_driver=False,
    )
    yield {"address": ray.get_runtime_context().gcs_address, "token": token}
    ray.shutdown()


class Dispatcher:
    """A dispatcher with the Ray executor, in a thread of the test process (which holds the cluster)."""

    def __init__(self, store: RunStore, **options):
        self.worker = Worker(store, RayExecutor(**{"gpus_per_run": 0.5, "cpus_per_run": 0.5, **options}))
        self.thread = threading.Thread(target=self.worker.run, daemon=True)

    def __enter__(self) -> Worker:
        self.thread.start()
        return self.worker

    def __exit__(self, *exc) -> None:
        self.worker.stopping.set()
        self.thread.join(timeout=120)
        assert not self.thread.is_alive()


def events(store: RunStore, run_id: str, kind: str | None = None) -> list[dict]:
    return [e for e in store.events_since(run_id) if kind is None or e["kind"] == kind]


def test_token_authentication_is_on(cluster):
    from ray._raylet import AuthenticationMode, get_authentication_mode

    assert get_authentication_mode() == AuthenticationMode.TOKEN


def test_a_group_through_the_worker_command_on_ray_to_results(cluster, tmp_path):
    from streamlit.testing.v1 import AppTest

    data = Path(os.environ["PRETEXT_LAB_DATA_DIR"])
    store = RunStore(data)
    group, ids = store.submit_group([config("rotation", budget=2.0)], owner="ada")
    worker = subprocess.Popen(
        [sys.executable, "-m", "sslcore", "worker", "--executor", "ray", "--ray-address", cluster["address"]]
        + ["--ray-gpus", "0.5", "--ray-cpus", "0.5", "--idle-exit", "120", "--data-dir", str(data)],
        cwd=tmp_path,  # not the project folder: the code reaches the Ray workers through Ray, not the disk
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=open(tmp_path / "worker.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: all(store.get(i).done for i in ids), 240, "the group to finish on Ray")
        runs = [store.get(i) for i in ids]
        assert [r.status for r in runs] == ["succeeded", "succeeded"], [r.error for r in runs]
        for run in runs:  # the files came back through Ray and were written here by the dispatcher
            folder = store.run_dir(run.id)
            assert artifacts.load_results(folder)["knn"] == run.results["knn"]
            assert artifacts.load_embedding(folder)["coords"].shape[1] == 2
            artifacts.load_backbone(folder)
            placed = events(store, run.id, "placed")
            assert len(placed) == 1 and placed[0]["pid"] != worker.pid
            assert [e["kind"] for e in store.events_since(run.id)].count("start") == 1

        at = AppTest.from_file(APP, default_timeout=60).run()
        assert not at.exception, at.exception
        sidebar = " ".join(c.value for c in at.sidebar.caption)
        assert "Runs use: **Ray cluster, 1 node, 1 GPU, 2 CPUs" in sidebar, sidebar
        at.switch_page("views/results.py").run()
        assert not at.exception, at.exception
        chart = next(c for c in at.get("plotly_chart") if "random init (baseline)" in c.proto.spec)
        assert "rotation" in chart.proto.spec
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert store.live_workers() == []


def test_progress_is_visible_while_the_run_trains_on_ray(cluster, tmp_path):
    store = RunStore(tmp_path)
    run_id = store.submit(config(budget=8.0, probe_every=1.0))
    with Dispatcher(store):
        first = wait_for(lambda: (r := store.get(run_id)).progress and r.progress["kind"] == "step" and r, 120, "a step")
        later = wait_for(
            lambda: (r := store.get(run_id)).progress["step"] > first.progress["step"] + 2 and r, 30, "more steps"
        )
        assert later.status == "running" and not later.done
        steps = events(store, run_id, "step")
        assert len(steps) >= 2 and steps[-1]["elapsed"] < 8.0  # stored while training, not at the end
        wait_for(lambda: store.get(run_id).done, 120, "the run to finish")
    run = store.get(run_id)
    assert run.status == "succeeded", run.error
    written = events(store, run_id, "step")
    gaps = [b["time"] - a["time"] for a, b in zip(written, written[1:])]
    # throttled like the local worker's: a few writes a second, not one per step (a probe flushes the last one)
    assert statistics.median(gaps) >= 0.2


def test_cancel_mid_run_on_ray_stops_it_within_seconds(cluster, tmp_path):
    store = RunStore(tmp_path)
    run_id = store.submit(config(budget=120.0))
    with Dispatcher(store):
        wait_for(lambda: events(store, run_id, "step"), 120, "training to start")
        asked = time.time()
        store.cancel(run_id)
        run = wait_for(lambda: (r := store.get(run_id)).done and r, 30, "the cancel")
    assert run.status == "cancelled"
    assert run.finished - asked < 5.0
    assert run.results is not None and run.results["train_seconds"] < 60  # it stopped itself, cooperatively
    assert not store.run_dir(run_id).exists()


def test_a_run_that_cannot_hear_the_cancel_is_ended_by_ray_cancel(cluster, tmp_path):
    store = RunStore(tmp_path)
    run_id = store.submit(config(budget=120.0))
    with Dispatcher(store) as worker:
        wait_for(lambda: events(store, run_id, "step"), 120, "training to start")
        ray.kill(worker.executor.board)  # the cooperative path is gone: only ray.cancel can stop it now
        asked = time.time()
        store.cancel(run_id)
        run = wait_for(lambda: (r := store.get(run_id)).done and r, 30, "the forced cancel")
        pid = events(store, run_id, "placed")[0]["pid"]
        wait_for(lambda: not _alive(pid), 30, "its Ray worker process to end")
    assert run.status == "cancelled" and run.results is None  # ended from outside: nothing to report
    assert 3.0 <= run.finished - asked < 8.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_ray_worker_fails_that_run_and_the_next_succeeds(cluster, tmp_path):
    store = RunStore(tmp_path)
    victim = store.submit(config(budget=120.0))
    with Dispatcher(store, gpus_per_run=1.0):  # one at a time: the next run waits for the victim's GPU
        survivor = store.submit(config(task="jigsaw", budget=1.0))
        placed = wait_for(lambda: events(store, victim, "placed") and events(store, victim, "step"), 120, "steps")
        pid = events(store, victim, "placed")[0]["pid"]
        assert placed and pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        dead = wait_for(lambda: (r := store.get(victim)).done and r, 60, "the lost run to be failed")
        done = wait_for(lambda: (r := store.get(survivor)).done and r, 180, "the next run")
    assert dead.status == "failed"
    assert "Ray worker" in dead.error and "stopped unexpectedly" in dead.error, dead.error
    assert not store.run_dir(victim).exists()
    assert done.status == "succeeded", done.error
    assert [e["kind"] for e in store.events_since(survivor)].count("start") == 1


def test_twenty_runs_from_three_owners_each_once_and_fairly_interleaved(cluster, tmp_path):
    store = RunStore(tmp_path)
    submitted = {"ada": 10, "bob": 6, "cy": 4}  # ada queues first and most
    owner_of = {}
    for owner, count in submitted.items():
        for _ in range(count):
            owner_of[store.submit(config(task="random_init", n=40), owner=owner)] = owner
    assert store.queue_position("cy") == (3, 20)  # cy's first run goes third, after one of ada's and bob's
    with Dispatcher(store):
        wait_for(lambda: all(r.done for r in store.list()), 400, "all twenty runs")
    runs = sorted(store.list(), key=lambda r: r.started)
    assert {r.id for r in runs} == set(owner_of) and all(r.status == "succeeded" for r in runs), [
        r.error for r in runs
    ]
    for run in runs:  # each ran exactly once
        kinds = Counter(e["kind"] for e in store.events_since(run.id))
        assert kinds["placed"] == 1 and kinds["start"] == 1
    order = [owner_of[r.id] for r in runs]
    assert order[:12] == ["ada", "bob", "cy"] * 4  # round-robin while everyone has runs waiting
    assert order[12:16] == ["ada", "bob"] * 2 and order[16:] == ["ada"] * 4


def test_a_fractional_gpu_lets_two_runs_share_the_declared_gpu(cluster, tmp_path):
    store = RunStore(tmp_path)
    ids = [store.submit(config(budget=120.0, seed=s)) for s in (0, 1)]
    with Dispatcher(store, gpus_per_run=0.5) as worker:
        assert worker.executor.capacity() == 2
        # both train at the same time (each has stepped while the other is still running): one GPU, two runs
        both = lambda: all(store.get(i).status == "running" and events(store, i, "step") for i in ids)  # noqa: E731
        wait_for(both, 180, "both runs to train at once")
        for run_id in ids:
            store.cancel(run_id)
        wait_for(lambda: all(store.get(i).done for i in ids), 60, "both to stop")
    assert [store.get(i).status for i in ids] == ["cancelled", "cancelled"]
    assert len({events(store, i, "placed")[0]["pid"] for i in ids}) == 2  # two Ray workers, side by side


def test_a_finetune_on_ray_gets_its_source_run_through_ray(cluster, tmp_path):
    """No shared filesystem: the source run's weights travel with the fine-tune to the node."""
    import dataclasses

    from sslcore.finetune import finetune_config

    store = RunStore(tmp_path)
    source_id = store.submit(config(epochs=1, budget=None))
    with Dispatcher(store):
        wait_for(lambda: store.get(source_id).done, 300, "the source run")
        assert store.get(source_id).status == "succeeded", store.get(source_id).error
        tune = finetune_config(store.get(source_id).config, source_id, 1, epochs=1)
        tune_id = store.submit(dataclasses.replace(tune, probe_size=20))
        wait_for(lambda: store.get(tune_id).done, 300, "the fine-tune")
    run = store.get(tune_id)
    assert run.status == "succeeded", run.error
    assert run.results["finetune"]["labels_per_class"] == 1
    assert run.results["finetune"]["source_task"] == "rotation"

