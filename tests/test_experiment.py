"""Whole runs: train -> evaluate -> baseline -> run folder, and the train / compare commands."""

import json

import numpy as np
import pytest
import torch

from sslcore import artifacts
from sslcore.cli import main
from sslcore.data import load_dataset
from sslcore.errors import ArtifactError
from sslcore.evaluate import extract_features
from sslcore.experiment import random_init_baseline, run_experiment
from sslcore.train import TrainConfig

FAST = dict(dataset="shapes", n=80, batch_size=16, probe_every=0.5, probe_size=20)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One short real run, shared by the tests that inspect its results and files."""
    out = tmp_path_factory.mktemp("run")
    data_dir = tmp_path_factory.mktemp("data")
    config = TrainConfig(task="rotation", budget=1.5, **FAST)
    events = []
    results = run_experiment(config, out, on_event=events.append, data_dir=data_dir)
    return config, results, out, events


def test_results_hold_probe_knn_baseline_and_curve(run):
    config, results, _, events = run
    assert results["status"] == "finished" and results["task"] == "rotation"
    for key in ("linear_probe", "knn"):
        assert 0 <= results[key] <= 1 and 0 <= results["baseline"][key] <= 1
    assert results["steps"] > 0 and results["train_seconds"] >= 1.5
    assert len(results["probe_curve"]) >= 2 and results["probe_curve"][0]["elapsed"] == 0
    assert 0 <= results["pretext_metric"] <= 1
    assert [e["kind"] for e in events][:2] == ["start", "probe"] and events[-1]["kind"] == "evaluating"


def test_run_folder_is_complete_and_safe_to_load(run):
    config, results, out, _ = run
    assert artifacts.load_results(out) == json.loads(json.dumps(results, default=float))
    assert artifacts.load_config(out)["task"] == "rotation"
    assert len(artifacts.load_metrics(out)) == results["steps"]


def test_embedding_has_one_point_per_test_image(run):
    _, _, out, _ = run
    emb = artifacts.load_embedding(out)
    n_test = len(emb["indices"])
    assert emb["coords"].shape == (n_test, 2) and np.isfinite(emb["coords"]).all()
    assert emb["labels"].shape == (n_test,) and emb["neighbours"].shape[0] == n_test
    assert emb["features"].shape == (n_test, 256)
    assert len(set(emb["indices"].tolist())) == n_test
    assert n_test == round(80 * 0.25) or abs(n_test - 20) <= 12  # stratified: about a quarter


def test_weights_round_trip_through_safetensors(run):
    _, _, out, _ = run
    backbone = artifacts.load_backbone(out)
    images = load_dataset("shapes", n=8).images
    again = artifacts.load_backbone(out)
    assert torch.equal(extract_features(backbone, images), extract_features(again, images))
    assert (out / artifacts.WEIGHTS).read_bytes()[:8] != b"\x80\x04\x95"  # not a pickle


def test_missing_or_damaged_artifacts_are_clear_errors(run, tmp_path):
    _, _, out, _ = run
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / artifacts.RESULTS).write_text("{not json")
    with pytest.raises(ArtifactError, match="damaged"):
        artifacts.load_results(copy)
    with pytest.raises(ArtifactError, match="missing"):
        artifacts.load_backbone(copy, "small_cnn")
    (copy / artifacts.WEIGHTS).write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match="could not be loaded"):
        artifacts.load_backbone(copy, "small_cnn")


def test_random_init_baseline_is_cached(tmp_path):
    config = TrainConfig(task="simclr", budget=1, **FAST)
    first = random_init_baseline(config, data_dir=tmp_path)
    cached = list((tmp_path / "cache" / "baselines").glob("*.json"))
    assert len(cached) == 1
    assert random_init_baseline(config, data_dir=tmp_path) == first
    other_seed = TrainConfig(task="simclr", budget=1, seed=1, **FAST)
    random_init_baseline(other_seed, data_dir=tmp_path)
    assert len(list((tmp_path / "cache" / "baselines").glob("*.json"))) == 2


def test_a_comparisons_random_init_run_is_the_baseline_its_other_runs_read(tmp_path):
    from sslcore.experiment import baseline_config

    config = TrainConfig(task="simclr", budget=1, **FAST)
    run = run_experiment(baseline_config(config), None, data_dir=tmp_path, embed="pca")
    cached = list((tmp_path / "cache" / "baselines").glob("*.json"))
    assert len(cached) == 1  # written by the run, so the next run does not evaluate random init again
    baseline = random_init_baseline(config, data_dir=tmp_path)
    assert baseline["linear_probe"] == run["linear_probe"] and baseline["knn"] == run["knn"]
    fresh = random_init_baseline(config, data_dir=tmp_path / "elsewhere")  # computed anew: the same numbers
    assert fresh["linear_probe"] == run["linear_probe"] and fresh["label_curve"]["points"] == baseline["label_curve"]["points"]


def test_cancelled_run_saves_nothing(tmp_path):
    config = TrainConfig(task="jigsaw", budget=60, **FAST)
    results = run_experiment(config, tmp_path / "run", should_stop=lambda: True, data_dir=tmp_path)
    assert results["status"] == "cancelled" and results["steps"] == 0
    assert not (tmp_path / "run").exists()


def test_train_command_prints_a_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(tmp_path / "data"))
    args = ["train", "--task", "jigsaw", "--n", "80", "--budget", "1", "--batch-size", "16", "--out", str(tmp_path / "r")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "jigsaw on shapes" in out and "linear probe" in out and "random init" in out
    assert (tmp_path / "r" / "results.json").exists()


def test_compare_command_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(tmp_path / "data"))
    args = ["compare", "--tasks", "rotation,simclr", "--n", "80", "--budget", "0.5", "--batch-size", "16", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["task"] for r in report["runs"]] == ["rotation", "simclr", "supervised"]
    assert all(r["baseline"] == report["baseline"] for r in report["runs"])


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--task", "nope"], "unknown task 'nope'"),
        (["train", "--task", "rotation", "--budget", "-1"], "budget must be more than 0"),
        (["train", "--task", "jigsaw", "--size", "16", "--param", "grid=3", "--param", "gap=4"], "too small"),
        (["compare", "--tasks", "rotation,bogus"], "bogus"),
    ],
)
def test_bad_run_arguments_are_one_line_errors(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
