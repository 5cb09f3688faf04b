"""Faults, with real worker processes where it matters: what the person sees, and that nothing else is lost.

A worker is killed at a precise moment without any hook in the product: it is started from a small
launcher script (written to tmp_path) that patches one library function to SIGKILL its own process at
that point, and then calls the normal ``sslcore.runs.serve``. The other faults (a store locked for too
long, a full or read-only disk, damaged files, out of memory, a restarted app server) are simulated
the same way or in-process, and each test then checks that other runs' results still load and queued
runs still run, exactly once.

Killed mid-training is covered in tests/test_runs.py::test_kill_9_mid_run_fails_that_run_and_the_queue_goes_on.
"""

from __future__ import annotations

import errno
import io
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from test_runs import wait_for

import sslcore.runs.store as store_module
from sslcore import artifacts
from sslcore.cli import main
from sslcore.errors import ArtifactError, StorageError
from sslcore.models import make_backbone
from sslcore.runs import WORKER_DIED, RunStore, StoreUnavailable, Worker, ensure_worker
from sslcore.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(dataset="shapes", n=64, batch_size=16, probe_every=1e6, probe_size=20, device="cpu")

LAUNCHER = """
import logging, os, signal, sys
from pathlib import Path

sys.path.insert(0, {root!r})
data_dir, mode, marker, idle_exit = sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])


def die(where):
    marker.write_text(where)
    os.kill(os.getpid(), signal.SIGKILL)


if mode == "kill-evaluating":
    import sslcore.experiment as experiment

    experiment.evaluate_trainer = lambda *args, **kwargs: die("evaluating")
elif mode in ("kill-writing-weights", "kill-writing-results"):
    from sslcore import artifacts

    real_write = artifacts._write_file
    target = "weights" if mode == "kill-writing-weights" else "results"

    def write_then_die(path, data):
        if target in path.name:
            with open(path, "wb") as f:  # half of the file reaches the disk, then the process dies
                f.write(data[: len(data) // 2])
            die(path.name)
        real_write(path, data)

    artifacts._write_file = write_then_die
elif mode == "oom":
    import torch
    import sslcore.train as train

    real_step, calls = train.train_step, [0]

    def step_or_oom(task, *args, **kwargs):
        if task.name == "rotation":
            calls[0] += 1
            if calls[0] >= 3:
                marker.write_text("oom")
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return real_step(task, *args, **kwargs)

    train.train_step = step_or_oom
elif mode == "short-lock-window":
    import sslcore.runs.store as store

    store.BUSY_TIMEOUT_S, store.LOCK_RETRIES = 0.2, 2  # a ~0.5 s retry window instead of ~33 s

from sslcore.runs import serve

sys.exit(serve(data_dir, device="cpu", idle_exit=idle_exit))
"""


def config(task="rotation", budget=1.0, **changes) -> TrainConfig:
    return TrainConfig(task=task, budget=budget, **{**SMALL, **changes})


def launch(tmp_path: Path, data_dir: Path, mode: str, idle_exit: float = 60.0) -> tuple[subprocess.Popen, Path, Path]:
    """A real worker process, patched for ``mode``; returns (process, marker file, its log)."""
    script = tmp_path / "launcher.py"
    script.write_text(LAUNCHER.format(root=str(ROOT)))
    marker, log = tmp_path / f"{mode}.marker", tmp_path / f"{mode}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(data_dir), mode, str(marker), str(idle_exit)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, marker, log


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def finished_store(tmp_path_factory) -> tuple[Path, str]:
    """A data folder holding one finished run (copied per test): the results that must survive."""
    folder = tmp_path_factory.mktemp("finished")
    store = RunStore(folder)
    run_id = store.submit(config(task="rotation", budget=None, epochs=1))
    Worker(store).run(max_runs=1)
    assert store.get(run_id).status == "succeeded", store.get(run_id).error
    return folder, run_id


@pytest.fixture
def data(tmp_path, finished_store) -> tuple[RunStore, str]:
    """A fresh data folder with the finished run in it; returns (store, that run's id)."""
    folder = tmp_path / "data"
    shutil.copytree(finished_store[0], folder)
    return RunStore(folder), finished_store[1]


def assert_still_loads(store: RunStore, run_id: str) -> None:
    """A finished run is intact: its record, results, weights, map and metrics all load."""
    run = store.get(run_id)
    assert run.status == "succeeded" and run.results["linear_probe"] is not None
    folder = store.run_dir(run_id)
    assert artifacts.load_results(folder)["knn"] == run.results["knn"]
    assert artifacts.load_config(folder)["task"] == run.task
    artifacts.load_backbone(folder)
    assert artifacts.load_embedding(folder)["coords"].shape[1] == 2
    assert len(artifacts.load_metrics(folder)) == run.results["steps"]


def exited(pid: int) -> bool:
    """Whether a child process has ended (reaping it); subprocess may have reaped it already."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True


def starts(store: RunStore, run_id: str) -> int:
    return [e["kind"] for e in store.events_since(run_id)].count("start")


def shown(capsys, store: RunStore, run_id: str) -> str:
    """What ``python -m sslcore runs show ID`` prints (the line the app's queue shows too)."""
    assert main(["runs", "show", run_id, "--data-dir", str(store.root)]) == 0
    return capsys.readouterr().out


# --- a. a worker killed (SIGKILL) at a precise moment -------------------------------------------------


def test_killed_during_evaluation(tmp_path, data, capsys):
    store, finished = data
    victim = store.submit(config(budget=1.0))
    queued = store.submit(config(task="jigsaw", budget=0.5))
    proc, marker, _ = launch(tmp_path, store.root, "kill-evaluating")
    try:
        assert proc.wait(timeout=120) == -signal.SIGKILL
    finally:
        stop(proc)
    assert marker.read_text() == "evaluating"
    run = store.get(victim)
    # nobody has looked yet. The dispatcher writes progress every PUMP_S, so the events of the last fraction
    # of a second before the kill ("evaluating" among them) may not have landed.
    assert run.status == "running" and run.progress["kind"] in ("start", "step", "evaluating")
    assert store.get(queued).status == "queued"

    Worker(store).run(max_runs=1)  # a new worker: it reaps the dead run, then serves the queue

    dead = store.get(victim)
    assert dead.status == "failed" and dead.error == WORKER_DIED
    assert "failed" in shown(capsys, store, victim) and WORKER_DIED in shown(capsys, store, victim)
    assert not store.run_dir(victim).exists()  # evaluation writes nothing: no folder to mistake for a result
    after = store.get(queued)
    assert after.status == "succeeded" and starts(store, queued) == 1
    assert_still_loads(store, finished)
    assert_still_loads(store, queued)


@pytest.mark.parametrize("mode", ["kill-writing-weights", "kill-writing-results"])
def test_killed_while_writing_artifacts(tmp_path, data, capsys, mode):
    store, finished = data
    victim = store.submit(config(task="random_init"))
    queued = store.submit(config(task="random_init", seed=1))
    proc, marker, _ = launch(tmp_path, store.root, mode)
    try:
        assert proc.wait(timeout=120) == -signal.SIGKILL
    finally:
        stop(proc)
    folder = store.run_dir(victim)
    written = marker.read_text()
    assert written.startswith(".") and written.endswith(".tmp")  # it died inside a temporary file
    names = {p.name for p in folder.iterdir()}
    assert written in names and artifacts.RESULTS not in names  # no results.json: not a finished run
    if mode == "kill-writing-weights":
        assert artifacts.WEIGHTS not in names and artifacts.CONFIG in names  # no half file under a real name
        with pytest.raises(ArtifactError, match="weights.safetensors is missing"):
            artifacts.load_backbone(folder)
    else:
        assert {artifacts.CONFIG, artifacts.WEIGHTS, artifacts.METRICS, artifacts.EMBEDDING} <= names
    with pytest.raises(ArtifactError, match="results.json is missing"):
        artifacts.load_results(folder)

    Worker(store).run(max_runs=1)

    dead = store.get(victim)
    assert dead.status == "failed" and dead.error == WORKER_DIED and dead.results is None
    assert WORKER_DIED in shown(capsys, store, victim)
    assert victim not in {r.id for r in store.list(status="succeeded")}  # what the Results page lists
    assert store.get(queued).status == "succeeded" and starts(store, queued) == 1
    assert_still_loads(store, finished)
    assert_still_loads(store, queued)
    store.delete(victim)  # deleting the failed run clears its partial folder
    assert not folder.exists()


def test_results_json_is_written_last_and_atomically(tmp_path, monkeypatch):
    """Order and method of the writes: every file goes to a temporary name first, results.json last."""
    calls = []
    real_write, real_replace = artifacts._write_file, os.replace
    monkeypatch.setattr(
        artifacts, "_write_file", lambda path, data: (calls.append(("write", path.name)), real_write(path, data))
    )
    monkeypatch.setattr(
        artifacts.os, "replace", lambda a, b: (calls.append(("replace", Path(b).name)), real_replace(a, b))
    )
    embedding = {k: np.zeros((3, 2)) for k in artifacts.EMBEDDING_KEYS}
    artifacts.save_run(
        tmp_path / "run", {"task": "x"}, {"knn": 0.5}, [{"step": 1}], make_backbone(), None, embedding
    )
    replaced = [name for kind, name in calls if kind == "replace"]
    assert replaced[-1] == artifacts.RESULTS and len(replaced) == 5
    assert all(name.startswith(".") and name.endswith(".tmp") for kind, name in calls if kind == "write")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(replaced)  # no temporary file left


def test_a_write_that_fails_leaves_nothing_behind(tmp_path, monkeypatch):
    def full(path, data):
        path.write_bytes(data[:3])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(artifacts, "_write_file", full)
    with pytest.raises(StorageError, match=r"^no space left in the data folder: could not write .*upload\.zip"):
        artifacts.write_bytes(tmp_path / "upload.zip", b"PK\x03\x04 and more")
    assert list(tmp_path.iterdir()) == []  # neither a half file nor a temporary one


# --- b. the run store locked by another process for longer than the retry window ----------------------


def test_store_locked_longer_than_the_retry_window(data, monkeypatch, capsys):
    store, finished = data
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.setattr(store_module, "LOCK_RETRIES", 2)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="stayed locked by another process for over 0.5 s"):
            store.submit(config())
        assert time.monotonic() - started < 5
        assert [r.id for r in store.list()] == [finished]  # reading goes on meanwhile (WAL)
        assert main(["runs", "--data-dir", str(store.root)]) == 2  # listing reaps, which writes
        err = capsys.readouterr().err
        assert err.startswith("error: the run store") and "locked" in err and err.count("\n") == 1
    finally:
        holder.execute("COMMIT")
        holder.close()
    run_id = store.submit(config())  # the lock is gone: the store recovers by itself
    assert store.get(run_id).status == "queued"
    assert_still_loads(store, finished)


def test_a_worker_outlasts_a_long_lock_and_keeps_serving(tmp_path, data):
    store, finished = data
    running = store.submit(config(budget=3.0))
    proc, _, log = launch(tmp_path, store.root, "short-lock-window")
    try:
        wait_for(lambda: any(e["kind"] == "step" for e in store.events_since(running)), 90, "training to start")
        holder = sqlite3.connect(store.path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        time.sleep(2.0)  # four times the worker's retry window
        holder.execute("COMMIT")
        holder.close()
        run = wait_for(lambda: (r := store.get(running)).done and r, 90, "the run to finish")
        assert run.status == "succeeded", run.error  # progress writes failed; the result did not
        later = store.submit(config(task="random_init"))
        after = wait_for(lambda: (r := store.get(later)).done and r, 90, "the next run")
        assert after.status == "succeeded" and after.worker_id == run.worker_id
        assert proc.poll() is None  # still serving
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        stop(proc)
    text = log.read_text()
    assert "locked" in text and "training goes on" in text and "Traceback" not in text
    assert starts(store, running) == 1 and starts(store, later) == 1
    assert_still_loads(store, finished)


# --- c. the data folder full or read-only -------------------------------------------------------------


@pytest.mark.parametrize(
    "code,message",
    [(errno.ENOSPC, "no space left in the data folder"), (errno.EROFS, "the data folder is on a read-only disk")],
)
def test_full_or_read_only_disk_fails_the_run_clearly_and_the_worker_goes_on(data, monkeypatch, code, message):
    store, finished = data
    disk = {"full": True}
    real_write = artifacts._write_file

    def write(path, data):
        if disk["full"]:
            with open(path, "wb") as f:
                f.write(data[:10])  # some bytes land before the disk gives out
            raise OSError(code, os.strerror(code))
        real_write(path, data)

    monkeypatch.setattr(artifacts, "_write_file", write)
    victim = store.submit(config(budget=None, epochs=1))
    worker = Worker(store)
    thread = threading.Thread(target=worker.run, kwargs={"max_runs": 2}, daemon=True)
    thread.start()
    try:
        failed = wait_for(lambda: (r := store.get(victim)).done and r, 90, "the run to fail")
        assert failed.status == "failed" and failed.error.startswith(message), failed.error
        assert "could not write" in failed.error and "Traceback" not in failed.error
        assert not store.run_dir(victim).exists()  # partial files removed: the space is needed back
        disk["full"] = False  # someone frees space; the same worker takes the next run
        later = store.submit(config(task="random_init"))
        done = wait_for(lambda: (r := store.get(later)).done and r, 90, "the next run")
        assert done.status == "succeeded", done.error
    finally:
        worker.stopping.set()
        thread.join(timeout=60)
    assert not thread.is_alive() and done.worker_id == failed.worker_id
    assert_still_loads(store, finished)
    assert_still_loads(store, later)


def test_a_full_disk_under_the_run_store_is_a_clear_error_and_it_recovers(data, monkeypatch):
    store, finished = data
    real_connect = RunStore._connect

    def full_disk(self, write):  # SQLite's own disk-full path: no page may be added to the file
        conn = real_connect(self, write)
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        return conn

    monkeypatch.setattr(RunStore, "_connect", full_disk)
    with pytest.raises(StoreUnavailable, match="no space left in the data folder .*database or disk is full"):
        store.add_event(finished, {"kind": "note", "text": "x" * 200_000})
    monkeypatch.undo()
    store.add_event(finished, {"kind": "note", "text": "x" * 200_000})
    assert store.events_since(finished)[-1]["kind"] == "note"
    assert_still_loads(store, finished)


def test_unusable_data_folders_are_one_line_errors(tmp_path, capsys):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(StorageError, match="exists and is not a folder"):
        RunStore(not_a_folder)
    assert main(["runs", "--data-dir", str(not_a_folder)]) == 2
    err = capsys.readouterr().err
    assert "is not a folder" in err and err.count("\n") == 1

    blocked = tmp_path / "blocked"
    (blocked / "runs.sqlite").mkdir(parents=True)  # SQLite cannot create its file there
    with pytest.raises(StoreUnavailable, match="cannot open the run store"):
        RunStore(blocked)

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "runs.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreUnavailable, match="is damaged .*move it aside"):
        RunStore(damaged)
    assert main(["submit", "--task", "rotation", "--no-worker", "--data-dir", str(damaged)]) == 2
    assert "is damaged" in capsys.readouterr().err


# --- d. a run's files deleted or damaged -------------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _pickled_weights(path: Path) -> None:
    """A pickle that runs code when unpickled, where the weights should be."""
    marker = path.parent / "pwned"
    path.write_bytes(pickle.dumps(_Exploit(str(marker))))


class _Exploit:
    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


def _npz(path: Path, **arrays) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


DAMAGE = {
    "weights truncated": (artifacts.WEIGHTS, _truncate, "load_backbone", "could not be loaded"),
    "weights deleted": (artifacts.WEIGHTS, Path.unlink, "load_backbone", "weights.safetensors is missing"),
    "weights are a pickle": (artifacts.WEIGHTS, _pickled_weights, "load_backbone", "could not be loaded"),
    "weights of another network": (
        artifacts.WEIGHTS,
        lambda p: save_file({"x": torch.zeros(3)}, str(p)),
        "load_backbone",
        "could not be loaded",
    ),
    "results garbage": (artifacts.RESULTS, lambda p: p.write_bytes(b"\x00\xffgarbage{"), "load_results", "damaged"),
    "results not an object": (
        artifacts.RESULTS,
        lambda p: p.write_text("[1, 2]"),
        "load_results",
        "expected a JSON object",
    ),
    "results deleted": (artifacts.RESULTS, Path.unlink, "load_results", "results.json is missing"),
    "config garbage": (artifacts.CONFIG, lambda p: p.write_text("{"), "load_backbone", "config.json is damaged"),
    "embedding deleted": (artifacts.EMBEDDING, Path.unlink, "load_embedding", "embedding.npz is missing"),
    "embedding truncated": (artifacts.EMBEDDING, _truncate, "load_embedding", "damaged"),
    "embedding garbage": (
        artifacts.EMBEDDING,
        lambda p: p.write_bytes(b"PK\x03\x04" + bytes(50)),
        "load_embedding",
        "damaged",
    ),
    "embedding holds pickled objects": (
        artifacts.EMBEDDING,
        lambda p: _npz(p, **{k: np.array([{"x": 1}, None], dtype=object) for k in artifacts.EMBEDDING_KEYS}),
        "load_embedding",
        "damaged",
    ),
    "embedding lacks arrays": (
        artifacts.EMBEDDING,
        lambda p: _npz(p, coords=np.zeros((4, 2))),
        "load_embedding",
        "no labels",
    ),
    "metrics deleted": (artifacts.METRICS, Path.unlink, "load_metrics", "metrics.jsonl is missing"),
}


@pytest.fixture(scope="module")
def two_finished(tmp_path_factory, finished_store) -> tuple[Path, str, str]:
    folder = tmp_path_factory.mktemp("two")
    shutil.copytree(finished_store[0], folder, dirs_exist_ok=True)
    store = RunStore(folder)
    other = store.submit(config(task="random_init"))
    Worker(store).run(max_runs=1)
    return folder, finished_store[1], other


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_or_missing_files_are_clear_errors_and_other_runs_load(tmp_path, two_finished, case):
    shutil.copytree(two_finished[0], tmp_path / "data")
    store, victim, other = RunStore(tmp_path / "data"), two_finished[1], two_finished[2]
    filename, damage, loader, message = DAMAGE[case]
    folder = store.run_dir(victim)
    damage(folder / filename)
    with pytest.raises(ArtifactError, match=message) as info:
        getattr(artifacts, loader)(folder)
    assert str(folder) in str(info.value) and "\n" not in str(info.value)
    assert not (folder / "pwned").exists()  # nothing in a run folder is ever unpickled
    assert store.get(victim).status == "succeeded" and store.get(victim).results["knn"] is not None
    assert_still_loads(store, other)


def test_a_torn_metrics_file_keeps_what_is_readable(data):
    store, finished = data
    path = store.run_dir(finished) / artifacts.METRICS
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + b"\xff\xfe 42\n" + lines[-1][:10])
    assert len(artifacts.load_metrics(store.run_dir(finished))) == len(lines) - 1


def test_nothing_in_sslcore_unpickles():
    """Weights load only through safetensors, arrays only with allow_pickle=False."""
    for path in (ROOT / "sslcore").rglob("*.py"):
        text = path.read_text()
        for forbidden in ("torch.load(", "pickle.load", "allow_pickle=True", "weights_only=False"):
            assert forbidden not in text, f"{path.relative_to(ROOT)} uses {forbidden}"


# --- e. out of memory -----------------------------------------------------------------------------------


def test_out_of_memory_fails_the_run_with_advice_and_the_next_run_finishes(tmp_path, data, capsys):
    store, finished = data
    victim = store.submit(config(budget=30.0))
    queued = store.submit(config(task="jigsaw", budget=0.5))
    proc, marker, log = launch(tmp_path, store.root, "oom", idle_exit=1.0)
    try:
        assert proc.wait(timeout=180) == 0  # it served both runs, then left when idle
    finally:
        stop(proc)
    assert marker.read_text() == "oom"
    failed = store.get(victim)
    assert failed.status == "failed"
    assert failed.error == "out of memory on CPU at batch size 16: lower the batch size or the image size"
    assert failed.finished - failed.started < 25  # it stopped at the error, not at the end of its budget
    assert "lower the batch size" in shown(capsys, store, victim)
    done = store.get(queued)
    assert done.status == "succeeded" and done.worker_id == failed.worker_id and starts(store, queued) == 1
    assert_still_loads(store, finished)
    assert_still_loads(store, queued)
    assert "Traceback" not in log.read_text()


def test_an_unexpected_exception_fails_one_run_and_the_worker_goes_on(data, monkeypatch):
    store, finished = data
    import sslcore.runs.local as executor

    real_run = executor.run_experiment

    def buggy(config, *args, **kwargs):
        if config.seed == 7:
            raise KeyError("a bug")
        return real_run(config, *args, **kwargs)

    monkeypatch.setattr(executor, "run_experiment", buggy)
    victim = store.submit(config(task="random_init", seed=7))
    later = store.submit(config(task="random_init"))
    assert Worker(store).run(max_runs=2) == 2
    failed = store.get(victim)
    assert failed.status == "failed" and failed.error == "internal error: KeyError: 'a bug'"
    assert store.get(later).status == "succeeded"
    assert_still_loads(store, finished)


# --- f. the app server restarted while runs are queued and running -----------------------------------------


def test_app_restart_leaves_the_worker_and_its_queue_alone(data):
    store, finished = data
    ids = [
        store.submit(config(budget=2.0)),
        store.submit(config(task="jigsaw", budget=0.5)),
        store.submit(config(task="random_init")),
    ]
    first = ensure_worker(store.root, device="cpu", idle_exit=2.0)  # what app.py does at startup
    assert first["started"]
    try:
        wait_for(lambda: store.get(ids[0]).status == "running", 90, "the first run to start")
        # The server restarts: a new process opens the store afresh and ensures a worker again.
        fresh = RunStore(store.root)
        again = ensure_worker(fresh.root, device="cpu", idle_exit=2.0)
        assert again == {"started": False, "workers": 1}
        assert fresh.get(ids[0]).status == "running" and fresh.get(ids[0]).worker_id == first["worker_id"]
        assert [fresh.get(i).status for i in ids[1:]] == ["queued", "queued"]
        wait_for(lambda: all(fresh.get(i).done for i in ids), 120, "all runs to finish")
        runs = [fresh.get(i) for i in ids]
        assert all(r.status == "succeeded" for r in runs), [r.error for r in runs]
        assert {r.worker_id for r in runs} == {first["worker_id"]}  # one worker did them all
        assert all(starts(fresh, i) == 1 for i in ids)  # each ran exactly once
        wait_for(lambda: exited(first["pid"]), 60, "the idle worker to leave")
    finally:
        try:
            os.kill(first["pid"], signal.SIGKILL)
            os.waitpid(first["pid"], 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    assert fresh.live_workers() == []
    assert_still_loads(fresh, finished)
