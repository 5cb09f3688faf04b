"""The command line's owners and seeds: `submit --owner`, `runs cancel/delete --owner`, `compare --seeds N`."""

import json

from sslcore.cli import main
from sslcore.runs import TEACHER_TOKEN_ENV, RunStore
from sslcore.runs.owners import SECRET_ENV

TINY = ["--dataset", "shapes", "--n", "100", "--batch-size", "16", "--epochs", "1"]


def test_only_the_owner_or_the_teacher_may_cancel_from_the_command_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(TEACHER_TOKEN_ENV, "t0ken")
    monkeypatch.delenv(SECRET_ENV, raising=False)
    data = ["--data-dir", str(tmp_path)]
    submit = ["submit", "--task", "rotation", "--no-worker", *TINY, *data]
    assert main([*submit, "--owner", "alice", "--secret", "alice's secret"]) == 0  # the first use claims the name
    run_id = capsys.readouterr().out.strip()
    assert RunStore(tmp_path).get(run_id).owner == "alice"
    monkeypatch.delenv(TEACHER_TOKEN_ENV)
    for who in (["--owner", "alice"], ["--owner", "alice", "--secret", "a guess"], ["--owner", "Alice"]):
        assert main(["runs", "cancel", run_id, *who, *data]) == 2  # typing her name is not being her
        assert "the name 'alice' is taken: give its secret with --secret or $PRETEXT_LAB_SECRET" in (
            capsys.readouterr().err.replace("'Alice'", "'alice'")
        )
    assert main([*submit, "--owner", "alice"]) == 2  # nor queueing as her
    assert main(["runs", "cancel", run_id, "--owner", "bob", *data]) == 2
    err = capsys.readouterr().err
    assert "claimed the name 'bob'; its secret (shown only now):" in err  # bob's first use claims his own name
    assert "belongs to alice: only they or the teacher can cancel it" in err
    assert RunStore(tmp_path).get(run_id).status == "queued"
    monkeypatch.setenv(SECRET_ENV, "alice's secret")  # alice's shell: her secret is in its environment
    assert main(["runs", "cancel", run_id, "--owner", "alice", *data]) == 0
    assert RunStore(tmp_path).get(run_id).status == "cancelled"
    monkeypatch.delenv(SECRET_ENV)
    monkeypatch.setenv(TEACHER_TOKEN_ENV, "t0ken")  # the teacher's shell: the token is in its environment
    assert main(["runs", "delete", run_id, *data]) == 0
    assert RunStore(tmp_path).list() == []
    assert main(submit) == 0  # no --owner: a run nobody owns
    assert RunStore(tmp_path).list()[0].owner is None


def test_compare_over_seeds_reports_each_seed_and_the_spread(capsys):
    assert main(["compare", "--tasks", "rotation", "--no-supervised", "--seeds", "2", *TINY, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["config"]["seed"] for r in out["runs"]] == [0, 1]
    assert [b["seed"] for b in out["baselines"]] == [0, 1]
    spread = out["spread"]["rotation"]["linear_probe"]
    probes = [r["linear_probe"] for r in out["runs"]]
    assert spread["n"] == 2 and spread["min"] == min(probes) and spread["max"] == max(probes)
    assert all(r["test_images"] in (24, 25) and r["steps"] == 4 and r["images_seen"] == 64 for r in out["runs"])


def test_compare_table_shows_spread_chance_and_warnings(capsys):
    assert main(["compare", "--tasks", "rotation", "--no-supervised", "--seeds", "2", *TINY]) == 0
    out = capsys.readouterr().out
    assert "2 seeds (0–1)" in out and "chance: 8.3% (12 classes)" in out
    assert "4 steps: too little training to learn the task" in out
    assert "test images: ±10 points by chance alone" in out
    row = next(line for line in out.splitlines() if line.startswith("rotation "))
    assert "(" in row and "–" in row  # mean (lowest–highest)


def test_seeds_out_of_range_is_one_line(capsys):
    assert main(["compare", "--tasks", "rotation", "--seeds", "9", *TINY]) == 2
    assert "--seeds must be from 1 to 5" in capsys.readouterr().err
