"""Runs belong to someone: the store itself refuses a cancel or delete by anyone but the owner or teacher."""

import json
import sqlite3

import pytest

from sslcore.errors import ConfigError
from sslcore.runs import TEACHER_TOKEN_ENV, NotAllowed, RunStore
from sslcore.runs.store import MIGRATIONS
from sslcore.train import TrainConfig

SMALL = dict(dataset="shapes", n=64, batch_size=16, probe_size=20, budget=1.0)


def config(task="rotation") -> TrainConfig:
    return TrainConfig(task=task, **SMALL)


@pytest.fixture
def teacher(monkeypatch):
    monkeypatch.setenv(TEACHER_TOKEN_ENV, "s3cret-token")
    return "s3cret-token"


def test_only_the_owner_may_cancel_or_delete(tmp_path, teacher):
    store = RunStore(tmp_path)
    run_id = store.submit(config(), owner="alice")
    assert store.get(run_id).owner == "alice"
    with pytest.raises(NotAllowed, match="belongs to alice"):
        store.cancel(run_id, by="bob")
    with pytest.raises(NotAllowed):
        store.cancel(run_id)  # nobody in particular
    with pytest.raises(NotAllowed):
        store.delete(run_id, by="bob", token="wrong")
    assert store.get(run_id).status == "queued"  # nothing changed
    assert store.cancel(run_id, by="alice").status == "cancelled"
    store.delete(run_id, by="alice")
    assert store.list() == []


def test_the_teacher_token_may_change_anything(tmp_path, teacher):
    store = RunStore(tmp_path)
    group, ids = store.submit_group([config(), config("jigsaw")], owner="alice")
    assert {store.get(i).owner for i in ids} == {"alice"}
    assert store.cancel(ids[0], by="teacher-without-name", token=teacher).status == "cancelled"
    for run_id in ids:
        store.cancel(run_id, token=teacher)
        store.delete(run_id, token=teacher)
    assert store.list() == []


def test_no_teacher_token_configured_means_no_teacher(tmp_path, monkeypatch):
    monkeypatch.delenv(TEACHER_TOKEN_ENV, raising=False)
    store = RunStore(tmp_path)
    run_id = store.submit(config(), owner="alice")
    for token in ("", None, "anything"):
        with pytest.raises(NotAllowed):
            store.cancel(run_id, by="bob", token=token)


def test_latest_group_is_per_owner_and_the_teacher_pins_a_reference(tmp_path, teacher):
    store = RunStore(tmp_path)
    alice, _ = store.submit_group([config()], owner="alice")
    bob, _ = store.submit_group([config("jigsaw")], owner="bob")
    assert store.latest_group(owner="alice") == alice
    assert store.latest_group(owner="bob") == bob
    assert store.latest_group() == bob
    assert store.latest_group(owner="carol") is None
    assert [g["group_id"] for g in store.groups()] == [bob, alice]
    assert store.groups()[0]["owner"] == "bob" and store.groups()[0]["tasks"] == ["jigsaw", "random_init"]
    assert store.reference_group() is None
    with pytest.raises(NotAllowed, match="only the teacher"):
        store.pin_reference(alice, token="guess")
    store.pin_reference(alice, token=teacher)
    assert store.reference_group() == alice
    store.pin_reference(None, token=teacher)
    assert store.reference_group() is None


def test_bad_owner_names_are_refused_in_words(tmp_path):
    store = RunStore(tmp_path)
    for bad in ("", "   ", "x" * 61, "a/b", "<script>"):
        with pytest.raises(ConfigError, match="not a usable name"):
            store.submit(config(), owner=bad)
    assert store.list() == []


def test_a_version_1_store_gains_owners_and_keeps_its_runs(tmp_path):
    """Runs from before owners exist keep working and stay changeable by anyone."""
    db = sqlite3.connect(tmp_path / "runs.sqlite")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for statement in MIGRATIONS[1]:
        db.execute(statement)
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.execute(
        "INSERT INTO runs (id, kind, task, config, status, created) VALUES ('0123456789ab', 'task', 'rotation', ?, 'queued', 1)",
        (json.dumps(config().to_dict()),),
    )
    db.commit()
    db.close()
    store = RunStore(tmp_path)
    old = store.get("0123456789ab")
    assert old.owner is None and old.task == "rotation"
    assert store.cancel(old.id, by="anyone").status == "cancelled"
    assert store.get(store.submit(config(), owner="alice")).owner == "alice"
