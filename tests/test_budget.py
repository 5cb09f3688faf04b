"""Compute budgets: counted FLOPs, a step count fixed up front, the same run at any load, a visible cap."""

import json
import math
import threading

import pytest
import torch

from sslcore import flops as flops_module
from sslcore.budget import Budget, describe, safety_cap
from sslcore.data import load_dataset
from sslcore.errors import ConfigError
from sslcore.experiment import run_experiment
from sslcore.flops import count_step_flops, format_flops, parse_flops, step_flops
from sslcore.models import make_backbone
from sslcore.speed import measure_speed
from sslcore.tasks import get_task
from sslcore.tasks.supervised import Supervised
from sslcore.train import TrainConfig, Trainer

TINY = dict(dataset="shapes", n=64, image_size=32, batch_size=16, probe_size=20, device="cpu")


@pytest.fixture(scope="module")
def tiny_data():
    return load_dataset("shapes", n=64, size=32, seed=0)


def step_count(task, batch: int, images) -> float:
    torch.manual_seed(0)
    backbone = make_backbone()
    return count_step_flops(task, backbone, task.head(backbone, 32), images[:batch], torch.zeros(batch, dtype=torch.long))


def test_flops_are_counted_from_the_real_step(tiny_data):
    images = tiny_data.images
    supervised = step_count(Supervised(num_classes=4), 16, images)
    assert supervised > 0
    # linear in the batch, and rotation (all four rotations of each image) costs ~4x the one-view step
    assert step_count(Supervised(num_classes=4), 32, images) == pytest.approx(2 * supervised, rel=0.01)
    rotation = step_count(get_task("rotation"), 16, images)
    assert 3.5 * supervised < rotation < 4.5 * supervised
    # jigsaw's 14-pixel tiles: four of them are cheaper than one 32-pixel image through the same backbone
    assert step_count(get_task("jigsaw"), 16, images) < rotation


def test_counting_leaves_the_model_untouched(tiny_data):
    torch.manual_seed(0)
    backbone = make_backbone()
    task = get_task("rotation")
    head = task.head(backbone, 32)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    count_step_flops(task, backbone, head, tiny_data.images[:8], tiny_data.labels[:8])
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())  # BN statistics included
    assert all(p.grad is None for p in backbone.parameters())


def test_step_flops_are_counted_once_and_cached_on_disk(tmp_path, monkeypatch):
    calls = []

    def count():
        calls.append(1)
        return 1.5e9

    assert step_flops("key-a", count, tmp_path) == 1.5e9
    assert step_flops("key-a", count, tmp_path) == 1.5e9
    assert len(calls) == 1
    monkeypatch.setattr(flops_module, "_COUNTED", {})  # a new process: the disk cache answers
    assert step_flops("key-a", count, tmp_path) == 1.5e9 and len(calls) == 1
    assert json.loads((tmp_path / "flops" / "key-a.json").read_text()) == {"flops": 1.5e9}


def test_a_compute_budget_is_a_step_count_fixed_up_front(tiny_data):
    probe = Trainer(TrainConfig(task="jigsaw", epochs=1, **TINY), tiny_data)
    per_step = probe.budget.step_flops
    trainer = Trainer(TrainConfig(task="jigsaw", compute=7.4 * per_step, **TINY), tiny_data)
    assert trainer.config.budget is None and trainer.budget.kind == "compute" and trainer.budget.total_steps == 7
    events = list(trainer.events())
    assert sum(e["kind"] == "step" for e in events) == 7 == trainer.steps
    spent = trainer.accounting()
    assert spent["steps"] == 7 and spent["images_seen"] == 7 * 16 and spent["flops"] == 7 * per_step
    assert spent["under_budget"] is False and spent["wall_s"] == trainer.train_seconds > 0
    assert events[-1]["kind"] == "end" and events[-1]["under_budget"] is False


def burn(stop: threading.Event) -> None:
    x = torch.full((256, 256), 0.01)  # no draw from the global RNG the run seeds
    while not stop.is_set():
        x = (x @ x).clamp_(-1, 1)  # competes for the same cores as training


def test_same_seed_and_compute_give_the_same_run_on_a_busy_machine(tiny_data):
    config = TrainConfig(task="simclr", compute=2e10, seed=5, probe_points=2, **TINY)
    quiet = Trainer(config, tiny_data)
    quiet_events = list(quiet.events())
    stop = threading.Event()
    spinner = threading.Thread(target=burn, args=(stop,), daemon=True)
    spinner.start()
    try:
        busy = Trainer(config, tiny_data)
        busy_events = list(busy.events())
    finally:
        stop.set()
        spinner.join()
    assert busy.steps == quiet.steps > 2
    assert [e["loss"] for e in busy_events if e["kind"] == "step"] == [e["loss"] for e in quiet_events if e["kind"] == "step"]
    assert [(p["step"], p["knn"]) for p in busy.probes] == [(p["step"], p["knn"]) for p in quiet.probes]
    assert [p["step"] for p in busy.probes] == [0, math.ceil(busy.steps / 2), busy.steps]  # start, half-way, end
    assert all(torch.equal(a, b) for a, b in zip(quiet.backbone.state_dict().values(), busy.backbone.state_dict().values()))


def test_the_wall_clock_cap_stops_a_run_and_marks_it_under_budget(tiny_data):
    config = TrainConfig(task="rotation", compute=1e15, max_seconds=0.5, probe_points=0, **TINY)
    trainer = Trainer(config, tiny_data)
    events = list(trainer.events())
    assert trainer.status == "finished" and trainer.under_budget
    assert 0 < trainer.steps < trainer.budget.total_steps
    assert trainer.train_seconds >= 0.5
    assert events[-1]["under_budget"] is True and trainer.accounting()["under_budget"] is True


def test_results_carry_what_the_numbers_rest_on(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setattr(flops_module, "_COUNTED", {})  # as in a fresh worker process
    config = TrainConfig(task="rotation", compute=1e10, probe_points=1, **TINY)
    results = run_experiment(config, data=tiny_data, data_dir=tmp_path, embed="pca")
    for key in ("steps", "images_seen", "flops", "wall_s", "under_budget", "test_images"):
        assert key in results, key
    assert results["flops"] == results["steps"] * results["step_flops"] and results["images_seen"] == 16 * results["steps"]
    assert results["budget"] == "compute" and results["test_images"] + results["train_images"] == 64
    assert [p["step"] for p in results["probe_curve"]] == [0, results["steps"]]
    assert list((tmp_path / "cache" / "flops").glob("*.json"))  # the worker's next run of this shape counts nothing


def test_budget_plan_progress_eta_and_probe_points():
    config = TrainConfig(task="rotation", compute=10e9, max_seconds=100, probe_points=4)
    budget = Budget.plan(config, steps_per_epoch=5, step_flops=1e9)
    assert (budget.kind, budget.total_steps, budget.cap_s) == ("compute", 10, 100)
    assert budget.progress(5, 999.0) == 0.5  # steps, not seconds
    assert budget.eta(5, 10.0, 2.0) == 10.0 and budget.eta(5, 95.0, 2.0) == 5.0  # the cap bounds the ETA
    assert not budget.capped(99.9) and budget.capped(100.0)
    assert [budget.next_probe(p) for p in (0.0, 0.25, 0.3)] == [0.25, 0.5, 0.5]
    timed = Budget.plan(TrainConfig(task="rotation", budget=20, probe_every=5), 5, 1e9)
    assert (timed.kind, timed.total_steps, timed.progress(3, 10.0)) == ("time", None, 0.5)
    assert timed.next_probe(0.3) == pytest.approx(0.55)
    epochs = Budget.plan(TrainConfig(task="rotation", epochs=2.5), 4, 1e9)
    assert (epochs.kind, epochs.total_steps) == ("epochs", 10)


def test_flops_read_and_written_as_people_write_them():
    assert parse_flops("2.4T") == 2.4e12 and parse_flops("500G") == 5e11 and parse_flops("3e9") == 3e9
    assert parse_flops("1.5 TFLOP") == 1.5e12
    with pytest.raises(ValueError, match="2.4T"):
        parse_flops("lots")
    assert format_flops(1.43e12) == "1.43 TFLOP" and format_flops(2e9) == "2 GFLOP"
    assert describe(1.5e12, 5e10) == "≈ 30 s here · 1.5 TFLOP per run"
    assert safety_cap(30) == 150 and safety_cap(5) == 65


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(compute=0), "compute must be more than 0"),
        (dict(compute=math.inf), "compute must be"),
        (dict(compute=1e12, max_seconds=-1), "max_seconds"),
        (dict(compute=1e12, probe_points=-1), "probe_points"),
    ],
)
def test_bad_compute_settings_are_clear_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(task="rotation", **changes).validate()


def test_machine_speed_is_measured_once_and_cached(tmp_path):
    speed = measure_speed("small_cnn", "cpu", tmp_path, seconds=0.1)
    assert 1e8 < speed < 1e15  # FLOP/s of a real training step on this CPU
    (cached,) = (tmp_path / "speed").glob("*.json")
    record = json.loads(cached.read_text())
    record["flops_per_s"] = 123.0
    cached.write_text(json.dumps(record))
    assert measure_speed("small_cnn", "cpu", tmp_path) == 123.0  # read, not re-measured


def test_each_backbone_size_has_its_own_measured_speed(tmp_path):
    default = measure_speed("small_cnn", "cpu", tmp_path, seconds=0.1)
    narrow = measure_speed("small_cnn", "cpu", tmp_path, seconds=0.1, backbone_args={"widths": [8, 16, 32]})
    files = {p.name: json.loads(p.read_text()) for p in (tmp_path / "speed").glob("*.json")}
    assert len(files) == 2  # one per size, the default's key unchanged from before sizes existed
    assert {tuple(r.get("backbone_args") or ()) for r in files.values()} == {(), ("widths",)}
    assert 1e7 < narrow < 1e15 and default != narrow


def test_compare_spends_compute_converted_from_seconds_unless_told_wall_clock(tmp_path, capsys, monkeypatch):
    from sslcore.cli import main
    from sslcore.speed import known_speed

    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(tmp_path))
    small = ["--tasks", "rotation", "--no-supervised", "--n", "80", "--batch-size", "16", "--json"]
    assert main(["compare", *small, "--budget", "0.5"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    speed = known_speed("small_cnn", "auto", tmp_path / "cache")  # measured by that command, once
    assert run["budget"] == "compute" and run["config"]["compute"] == pytest.approx(0.5 * speed)
    assert run["config"]["max_seconds"] == safety_cap(0.5) and run["steps"] == run["planned_steps"]
    assert main(["compare", *small, "--budget", "0.5", "--wall-clock"]) == 0
    (timed,) = json.loads(capsys.readouterr().out)["runs"]
    assert timed["budget"] == "time" and timed["config"]["budget"] == 0.5 and timed["config"]["compute"] is None
