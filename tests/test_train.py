"""The training loop: it learns, it stops when asked, it is reproducible, it refuses bad settings."""

import math

import pytest
import torch

from sslcore.data import load_dataset
from sslcore.errors import ConfigError, TrainingError
from sslcore.tasks import TASKS, list_tasks
from sslcore.tasks.rotation import Rotation
from sslcore.train import RUN_KINDS, SUPERVISED, TrainConfig, Trainer, lr_factor

TINY = dict(dataset="shapes", n=64, image_size=32, batch_size=16, probe_every=1e9, probe_size=20)


@pytest.fixture(scope="module")
def tiny_data():
    return load_dataset("shapes", n=64, size=32, seed=0)


def losses(config: TrainConfig, data, **kwargs) -> list[float]:
    return [e["loss"] for e in Trainer(config, data).events(**kwargs) if e["kind"] == "step"]


@pytest.mark.parametrize("task", [*(cls.name for cls in list_tasks("image")), SUPERVISED])
def test_loss_falls_within_a_few_dozen_steps(tiny_data, task):
    epochs = 48 if task == "relative_position" else 24  # its 8-pixel patches learn slowest: ~10% in 96 steps
    trainer = Trainer(TrainConfig(task=task, epochs=epochs, budget=None, seed=0, **TINY), tiny_data)
    curve = [e["loss"] for e in trainer.events() if e["kind"] == "step"]
    assert len(curve) == epochs * (len(trainer.train_idx) // 16)  # a few dozen steps
    assert all(math.isfinite(v) for v in curve)
    first, last = sum(curve[:8]) / 8, sum(curve[-8:]) / 8
    assert last < first - 0.03 * abs(first), f"{task}: loss went from {first:.4f} to {last:.4f}"


def test_same_seed_same_losses_on_cpu(tiny_data):
    config = TrainConfig(task="simclr", epochs=2, budget=None, seed=3, device="cpu", **TINY)
    assert losses(config, tiny_data) == losses(config, tiny_data)
    other = TrainConfig(task="simclr", epochs=2, budget=None, seed=4, device="cpu", **TINY)
    assert losses(other, tiny_data) != losses(config, tiny_data)


def test_cancel_stops_within_one_step(tiny_data):
    trainer = Trainer(TrainConfig(task="rotation", budget=600, **TINY), tiny_data)
    steps = 0

    def should_stop():
        return steps >= 3

    events = []
    for event in trainer.events(should_stop):
        events.append(event)
        if event["kind"] == "step":
            steps += 1
    assert steps == 3
    end = {"kind": "end", "status": "cancelled", "steps": 3, "elapsed": trainer.train_seconds, "under_budget": False}
    assert events[-1] == end
    assert trainer.status == "cancelled"


def test_time_budget_is_respected_and_probes_form_a_curve(tiny_data):
    config = TrainConfig(task="rotation", budget=2.0, **{**TINY, "probe_every": 0.5})
    trainer = Trainer(config, tiny_data)
    events = list(trainer.events())
    steps = [e for e in events if e["kind"] == "step"]
    assert 2.0 <= trainer.train_seconds < 2.0 + 3 * max(e["elapsed"] / e["step"] for e in steps)
    assert len(trainer.probes) >= 3  # at the start, during, and at the end
    assert trainer.probes[0]["step"] == 0 and trainer.probes[-1]["step"] == trainer.steps
    assert all(0 <= p["knn"] <= 1 for p in trainer.probes)
    assert steps[-1]["eta"] == 0 and steps[-1]["progress"] == 1.0
    assert {"step", "epoch", "loss", "metric", "images_per_s", "elapsed", "eta"} <= set(steps[0])


class Exploding(Rotation):
    """A task whose loss becomes NaN at its third step: any task could, after a bad learning rate."""

    name = "exploding"
    calls = 0

    def loss(self, out, batch):
        loss, metrics = super().loss(out, batch)
        Exploding.calls += 1
        return (loss * float("nan") if Exploding.calls >= 3 else loss), metrics


def test_nan_loss_ends_the_run_with_a_clear_message(tiny_data, monkeypatch):
    monkeypatch.setitem(TASKS, "exploding", Exploding)
    monkeypatch.setattr("sslcore.train.RUN_KINDS", (*RUN_KINDS, "exploding"))
    trainer = Trainer(TrainConfig(task="exploding", epochs=5, budget=None, **TINY), tiny_data)
    Exploding.calls = 0  # counting the step's FLOPs called loss() once, on copies of the model
    before = {k: v.clone() for k, v in trainer.backbone.state_dict().items()}
    steps = []
    with pytest.raises(TrainingError, match="loss became nan at step 3.*Lower the learning rate"):
        for event in trainer.events():
            steps.append(event)
    assert sum(e["kind"] == "step" for e in steps) == 2
    after = trainer.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # two real updates happened
    assert all(torch.isfinite(v.float()).all() for v in after.values())  # the NaN step was not applied


def test_lr_schedule_warms_up_then_decays():
    assert lr_factor(0.0, 0.1) < 0.05
    assert lr_factor(0.1, 0.1) == pytest.approx(1.0)
    assert lr_factor(0.55, 0.1) == pytest.approx(0.5, abs=1e-6)
    assert lr_factor(1.0, 0.1) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"task": "rotate"}, "unknown task 'rotate'"),
        ({"budget": 0}, "budget must be more than 0"),
        ({"budget": -5}, "budget must be more than 0"),
        ({"batch_size": 10**6}, "batch size"),
        ({"task": "jigsaw", "image_size": 16, "params": {"grid": 3, "gap": 4}}, "too small"),
        ({"task": "rotation", "params": {"angles": 3}}, "must be one of"),
        ({"device": "tpu"}, "device must be one of"),
        ({"optimizer": "lion"}, "optimizer"),
        ({"task": "random_init", "params": {"x": 1}}, "no parameters"),
    ],
)
def test_bad_configs_are_clear_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes).validate()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_forcing_cuda_without_a_gpu_is_a_clear_error(tiny_data):
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        Trainer(TrainConfig(device="cuda", **TINY), tiny_data)


def test_unlabelled_data_cannot_be_evaluated():
    from sslcore.data import ImageDataset

    data = ImageDataset("mine", torch.zeros(30, 3, 32, 32, dtype=torch.uint8), torch.full((30,), -1), [])
    with pytest.raises(ConfigError, match="no labels"):
        Trainer(TrainConfig(**{**TINY, "n": None}), data)
