"""The shared queue: fair across owners, capped per owner, and the dispatcher's choice of executor.

No training here: claims and positions are store operations (real SQLite), and the import check runs a
real fresh interpreter.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sslcore.cli import main
from sslcore.runs import QueueFull, RunStore, make_executor
from sslcore.runs.store import MAX_QUEUED_ENV
from sslcore.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def config(task="random_init") -> TrainConfig:
    return TrainConfig(task=task, dataset="shapes", n=64)


def claim_owners(store: RunStore, count: int) -> list[str | None]:
    return [store.claim("w").owner for _ in range(count)]


def test_claims_go_round_robin_over_owners_oldest_first_within_each(tmp_path):
    store = RunStore(tmp_path)
    mine = [store.submit(config(), owner="ada") for _ in range(5)]  # ada queues five first
    store.submit(config(), owner="bob")
    store.submit(config(), owner="bob")
    store.submit(config(), owner="cy")
    assert claim_owners(store, 8) == ["ada", "bob", "cy", "ada", "bob", "ada", "ada", "ada"]
    started = sorted((r for r in store.list() if r.owner == "ada"), key=lambda r: r.started)
    assert [r.id for r in started] == mine  # oldest first within an owner
    assert store.claim("w") is None


def test_a_newcomer_goes_before_someone_who_was_just_served(tmp_path):
    store = RunStore(tmp_path)
    for _ in range(3):
        store.submit(config(), owner="ada")
    assert store.claim("w").owner == "ada"
    store.submit(config(), owner="bob")  # bob arrives later, but ada has just had a turn
    assert claim_owners(store, 3) == ["bob", "ada", "ada"]


def test_queue_order_and_positions_match_the_claims(tmp_path):
    store = RunStore(tmp_path)
    for owner, count in (("ada", 4), ("bob", 2), (None, 1)):
        for _ in range(count):
            store.submit(config(), owner=owner)
    order = store.queue_order()
    assert store.queue_position("bob") == (2, 7) and store.queue_position(None) == (3, 7)
    assert store.queue_position("nobody") is None
    assert [store.claim("w").id for _ in range(7)] == order


def test_a_fine_tune_waits_for_its_source_run_however_many_slots_there_are(tmp_path):
    from sslcore.finetune import finetune_config

    store = RunStore(tmp_path)
    source = config("rotation")
    source_id = store.submit(source, owner="ada")
    tune_id = store.submit(finetune_config(source.to_dict(), source_id, 10), owner="ada")
    other_id = store.submit(config(), owner="ada")
    assert store.queue_order() == [source_id, other_id, tune_id]  # the waiting fine-tune is listed last
    assert store.claim("w").id == source_id
    assert store.claim("w").id == other_id  # a second slot skips the fine-tune while its source runs
    assert store.claim("w") is None and store.queue_position("ada") == (1, 1)
    store.finish(source_id, "succeeded", results={"linear_probe": 0.5})
    assert store.claim("w").id == tune_id


def test_a_fine_tune_of_a_failed_or_deleted_source_is_not_held_forever(tmp_path):
    from sslcore.finetune import finetune_config

    store = RunStore(tmp_path)
    failed = store.submit(config("rotation"), owner="ada")
    gone = store.submit(config("rotation"), owner="ada")
    assert {store.claim("w").id, store.claim("w").id} == {failed, gone}
    store.finish(failed, "failed", error="boom")
    store.finish(gone, "cancelled")
    store.delete(gone, by="ada")
    tunes = [store.submit(finetune_config(config("rotation").to_dict(), s, 10), owner="ada") for s in (failed, gone)]
    assert [store.claim("w").id for _ in range(2)] == tunes  # each starts, and fails naming its source


def test_the_per_owner_cap_refuses_more_with_a_clear_message_and_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_QUEUED_ENV, "4")
    store = RunStore(tmp_path)
    store.submit_group([config("rotation"), config("jigsaw")], owner="ada")  # + random init: 3 queued
    with pytest.raises(QueueFull, match=r"ada already has 3 runs waiting and the limit is 4 per person"):
        store.submit_group([config("rotation")], owner="ada")  # 2 more would make 5: none is queued
    assert len(store.list(owner="ada")) == 3
    store.submit(config(), owner="ada")  # the fourth fits
    store.submit(config(), owner="bob")  # others are not affected
    store.claim("w")  # one of ada's starts: a place frees up
    store.submit(config(), owner="ada")
    assert len(store.list(status="queued", owner="ada")) == 4


def test_the_store_and_the_dispatcher_start_without_torch():
    code = (
        "import sys; import sslcore.runs, sslcore.runs.store, sslcore.runs.worker, sslcore.kinds; "
        "sys.exit('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr or "importing the store or the dispatcher imported torch"


def test_the_executor_is_chosen_by_name_and_bad_choices_are_clear(tmp_path, monkeypatch, capsys):
    assert make_executor("local").name == "local"
    monkeypatch.setenv("PRETEXT_LAB_EXECUTOR", "spark")  # what `make run` passes to the worker it starts
    assert main(["worker", "--data-dir", str(tmp_path), "--idle-exit", "0"]) == 2
    assert capsys.readouterr().err == "error: unknown executor 'spark': use one of local, ray\n"
    args = ["worker", "--executor", "ray", "--concurrency", "2", "--data-dir", str(tmp_path)]
    assert main(args) == 2
    assert "--concurrency is for the local executor" in capsys.readouterr().err


def test_without_ray_the_ray_executor_says_how_to_install_it(tmp_path, capsys):
    script = (
        "import sys; sys.modules['ray'] = None; from sslcore.cli import main; "
        f"sys.exit(main(['worker', '--executor', 'ray', '--data-dir', {str(tmp_path)!r}]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: the Ray executor needs Ray: pip install -r requirements-ray.txt"


def test_train_shows_your_place_in_the_queue_and_the_sidebar_where_runs_go():
    from signing import sign_in
    from streamlit.testing.v1 import AppTest

    store = RunStore()  # the test's data folder, as the app sees it
    store.register_worker("busy-elsewhere", os.getpid(), "")  # a live worker: the page starts none
    for _ in range(3):
        store.submit(config(), owner="bob")
    store.submit(config(), owner="ada")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    sign_in(at.run(), "ada")
    assert "Runs use: **this machine (CPU)**" in " ".join(c.value for c in at.sidebar.caption)
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    assert "Your next run is **2 of 4** waiting" in " ".join(c.value for c in at.caption)
