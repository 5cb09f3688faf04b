"""The run store and workers, with real processes and real SQLite."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sslcore import artifacts
from sslcore.errors import ArtifactError, ConfigError
from sslcore.runs import WORKER_DIED, RunNotFound, RunStore, Worker
from sslcore.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(dataset="shapes", n=64, batch_size=16, probe_every=0.5, probe_size=20)


def config(task="rotation", budget=1.0, **changes) -> TrainConfig:
    return TrainConfig(task=task, budget=budget, **{**SMALL, **changes})


def start_worker(data_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sslcore", "worker", "--data-dir", str(data_dir), *extra],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_submit_then_a_real_worker_process_runs_it(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.submit(config())
    assert store.get(run_id).status == "queued"
    worker = start_worker(tmp_path, "--idle-exit", "1")
    try:
        run = wait_for(lambda: (r := store.get(run_id)).done and r, 120, "the run to finish")
    finally:
        worker.wait(timeout=60)
    assert run.status == "succeeded", run.error
    assert 0 <= run.results["linear_probe"] <= 1 and "baseline" in run.results
    folder = store.run_dir(run_id)
    assert artifacts.load_results(folder)["knn"] == run.results["knn"]
    assert artifacts.load_embedding(folder)["coords"].shape[1] == 2
    kinds = [e["kind"] for e in store.events_since(run_id)]
    assert kinds[0] == "start" and "step" in kinds and "probe" in kinds and kinds[-1] == "evaluating"
    assert worker.returncode == 0


def test_kill_9_mid_run_fails_that_run_and_the_queue_goes_on(tmp_path):
    store = RunStore(tmp_path)
    victim = store.submit(config(budget=120))
    survivor = store.submit(config(task="jigsaw", budget=1))
    first = start_worker(tmp_path)
    wait_for(lambda: store.events_since(victim, 2), 90, "the first run to make progress")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert store.get(victim).status == "running"  # nobody knows yet
    second = start_worker(tmp_path, "--idle-exit", "3")
    try:
        dead = wait_for(lambda: (r := store.get(victim)).status == "failed" and r, 15, "the dead run to be reaped")
        assert dead.error == WORKER_DIED
        done = wait_for(lambda: (r := store.get(survivor)).done and r, 120, "the next run")
    finally:
        second.wait(timeout=60)
    assert done.status == "succeeded" and done.worker_id != dead.worker_id
    assert [e["kind"] for e in store.events_since(survivor)].count("start") == 1
    assert len(store.list()) == 2


def test_twenty_runs_three_workers_each_runs_exactly_once(tmp_path):
    store = RunStore(tmp_path)
    ids = {store.submit(config(task="random_init")) for _ in range(20)}
    workers = [start_worker(tmp_path, "--idle-exit", "2") for _ in range(3)]
    try:
        wait_for(lambda: all(r.done for r in store.list()), 240, "all twenty runs")
    finally:
        for w in workers:
            w.wait(timeout=60)
    runs = store.list()
    assert {r.id for r in runs} == ids
    assert all(r.status == "succeeded" for r in runs), [r.error for r in runs]
    for run_id in ids:
        assert [e["kind"] for e in store.events_since(run_id)].count("start") == 1
    assert len({r.worker_id for r in runs}) >= 2  # the work was shared


def test_restart_keeps_finished_runs_and_results(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.submit(config(task="random_init"))
    Worker(store).run(max_runs=1)
    again = RunStore(tmp_path)
    run = again.get(run_id)
    assert run.status == "succeeded" and run.results == store.get(run_id).results
    assert again.events_since(run_id) == store.events_since(run_id)


def test_cancel_mid_run_stops_it_and_delete_removes_it(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.submit(config(budget=120))
    worker = Worker(store)
    thread = threading.Thread(target=worker.run, kwargs={"max_runs": 1})
    thread.start()
    wait_for(lambda: any(e["kind"] == "step" for e in store.events_since(run_id)), 60, "training to start")
    assert store.cancel(run_id).cancel_requested
    thread.join(timeout=30)
    assert not thread.is_alive()
    run = store.get(run_id)
    assert run.status == "cancelled" and run.results["train_seconds"] < 60
    store.delete(run_id)
    with pytest.raises(RunNotFound, match=run_id):
        store.get(run_id)
    assert not store.run_dir(run_id).exists() and store.events_since(run_id) == []


def test_cancel_a_queued_run_and_refuse_to_delete_a_running_one(tmp_path):
    store = RunStore(tmp_path)
    queued = store.submit(config())
    assert store.cancel(queued).status == "cancelled"
    running = store.submit(config())
    store.claim("test-worker")
    with pytest.raises(ConfigError, match="cancel it first"):
        store.delete(running)


def test_group_gets_a_random_init_baseline(tmp_path):
    store = RunStore(tmp_path)
    group, ids = store.submit_group([config("rotation"), config("simclr")])
    runs = store.list(group_id=group)
    assert sorted(r.task for r in runs) == ["random_init", "rotation", "simclr"] and len(ids) == 3
    assert store.latest_group() == group


def test_removed_artifacts_are_a_clear_error_not_a_crash(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.submit(config(task="random_init"))
    Worker(store).run(max_runs=1)
    for f in store.run_dir(run_id).iterdir():
        f.unlink()
    assert store.get(run_id).status == "succeeded"  # the record survives
    with pytest.raises(ArtifactError, match="missing"):
        artifacts.load_embedding(store.run_dir(run_id))


def test_a_briefly_locked_database_is_retried(tmp_path):
    store = RunStore(tmp_path)
    holder = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    releaser = threading.Timer(1.0, lambda: holder.execute("COMMIT"))
    releaser.start()
    started = time.monotonic()
    run_id = store.submit(config())
    assert time.monotonic() - started >= 0.9
    assert store.get(run_id).status == "queued"
    releaser.join()
    holder.close()


def test_failure_is_recorded_and_the_worker_carries_on(tmp_path):
    store = RunStore(tmp_path)
    bad = store.submit(config(dataset="no-such-dataset"))
    good = store.submit(config(task="random_init"))
    Worker(store).run(max_runs=2)
    failed = store.get(bad)
    assert failed.status == "failed" and "no-such-dataset" in failed.error
    assert store.get(good).status == "succeeded"


def test_unknown_ids_never_reach_the_filesystem(tmp_path):
    store = RunStore(tmp_path)
    for bad in ("../../etc", "abc", "0123456789ab/..", ""):
        with pytest.raises(RunNotFound):
            store.get(bad)


def test_cli_submit_runs_wait(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "sslcore"]
    submit = subprocess.run(
        [*base, "submit", "--task", "random_init", "--n", "64", "--data-dir", str(tmp_path), "--json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )
    assert submit.returncode == 0, submit.stderr
    run_id = json.loads(submit.stdout)["id"]
    wait = subprocess.run(
        [*base, "runs", "wait", run_id, "--timeout", "120", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=180,
    )
    assert wait.returncode == 0 and "succeeded" in wait.stdout, wait.stdout + wait.stderr
    listing = subprocess.run(
        [*base, "runs", "list", "--data-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert run_id in listing.stdout
    store = RunStore(tmp_path)
    for w in store.live_workers():  # stop the auto-started worker
        os.kill(w["pid"], signal.SIGTERM)


def test_a_run_whose_heartbeat_stopped_is_failed_with_the_reason(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.submit(config())
    store.claim("a-worker-on-another-machine")  # no process here to ask: only the heartbeat tells
    assert store.reap_stale(timeout=60) == []
    time.sleep(0.05)
    assert store.reap_stale(timeout=0.01) == [run_id]
    run = store.get(run_id)
    assert run.status == "failed" and run.error == WORKER_DIED
