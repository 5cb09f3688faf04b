"""A task is evaluated on the input it was trained on (issue 20): colorization's features, probes, baseline,
fine-tunes and predictions see grey inputs; every other task sees the images themselves."""

import dataclasses
import hashlib
import json

import pytest
import torch
from seeded import gen

import sslcore.train as train_module
from sslcore import experiment
from sslcore.color import rgb_to_lab
from sslcore.context import context_line
from sslcore.data import ImageDataset
from sslcore.errors import ConfigError
from sslcore.evaluate import extract_features
from sslcore.experiment import BASELINE_VERSION, _baseline_key, baseline_config, evaluate_trainer, random_init_baseline
from sslcore.finetune import finetune_config, source_view
from sslcore.tasks import EVAL_VIEWS, TASKS, get_task, run_view, view_inputs
from sslcore.tasks.supervised import Supervised
from sslcore.train import FINETUNE, TrainConfig, Trainer, objective_inputs

FAST = dict(dataset="shapes", n=80, batch_size=16, probe_size=20, probe_points=0)


def colour_twins(n: int = 40, size: int = 16, seed: int = 0) -> torch.Tensor:
    """(2n, 3, size, size) uint8: images 2i and 2i+1 differ in colour at every pixel yet have the same grey view
    (each pixel pair is two sRGB colours of very different hue whose lightness rounds to the same grey level)."""
    g = torch.Generator().manual_seed(seed)
    colours = torch.randint(0, 256, (20000, 3), generator=g, dtype=torch.uint8)
    grey = view_inputs("grey", colours.view(-1, 3, 1, 1))[:, 0, 0, 0].long()
    hue = rgb_to_lab(colours.float().div(255).view(-1, 3, 1, 1))[:, 1:, 0, 0]
    pairs = []
    for level in grey.unique():
        members = (grey == level).nonzero().flatten()
        if len(members) >= 2:
            ab = hue[members]
            far = torch.cdist(ab, ab).argmax()
            i, j = members[far // len(members)], members[far % len(members)]
            if (hue[i] - hue[j]).norm() > 40:  # clearly different colours
                pairs.append((colours[i], colours[j]))
    a = torch.stack([p[0] for p in pairs])
    b = torch.stack([p[1] for p in pairs])
    pick = torch.randint(0, len(pairs), (n, size, size), generator=g)
    first = a[pick].permute(0, 3, 1, 2)
    second = b[pick].permute(0, 3, 1, 2)
    return torch.stack([first, second], dim=1).flatten(0, 1).contiguous()


@pytest.fixture(scope="module")
def twins():
    images = colour_twins()
    labels = torch.arange(len(images)) // 2 % 4  # a twin pair shares its label
    return ImageDataset("twins", images, labels, ["a", "b", "c", "d"])


# ----------------------------------------------------------------------------------------- the views
def test_every_task_declares_a_known_view_and_only_colorization_sees_grey():
    assert {cls.eval_view for cls in TASKS.values()} <= set(EVAL_VIEWS)
    assert [n for n, cls in TASKS.items() if cls.eval_view != "image"] == ["colorization"]
    assert run_view("colorization") == "grey" and run_view("rotation") == run_view(FINETUNE) == "image"


def test_grey_view_is_exactly_what_colorization_feeds(images):
    grey = view_inputs("grey", images)
    assert grey.dtype == torch.uint8 and grey.shape == images.shape
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    fed = get_task("colorization").prepare(images, gen()).inputs
    assert (grey.float() / 255 - fed).abs().max() <= 0.5 / 255 + 1e-6  # the same, up to uint8 rounding
    assert view_inputs("image", images) is images  # no copy for the images themselves
    float_fed = view_inputs("grey", images.float() / 255)
    assert torch.allclose(float_fed, fed)


def test_colour_twins_differ_in_colour_but_not_in_grey(twins):
    images = twins.images
    assert (images[0::2] != images[1::2]).any(1).float().mean() > 0.9
    grey = view_inputs("grey", images)
    assert torch.equal(grey[0::2], grey[1::2])


# --------------------------------------------------------------------------------- runs and probes
def test_a_colorization_run_is_evaluated_and_probed_on_grey_inputs(twins, monkeypatch):
    config = TrainConfig(task="colorization", budget=1, image_size=16, **FAST)
    trainer = Trainer(config, twins)
    assert trainer.view == "grey" and torch.equal(trainer.eval_inputs, view_inputs("grey", twins.images))
    feats = extract_features(trainer.backbone, trainer.eval_inputs)
    assert torch.equal(feats[0::2], feats[1::2])  # twins: same features, whatever their colour
    assert not torch.equal(*extract_features(trainer.backbone, twins.images[:2]))  # on colour they would differ

    seen = []
    real = train_module.extract_features
    monkeypatch.setattr(train_module, "extract_features", lambda bb, x, *a, **k: seen.append(x) or real(bb, x, *a, **k))
    trainer.probe()  # the in-run kNN probe
    assert torch.equal(seen[0][:, 0], seen[0][:, 1]) and torch.equal(seen[0][:, 1], seen[0][:, 2])

    evaluation = evaluate_trainer(trainer, embed="pca", label_ks=(1,))
    test_grey = feats[trainer.test_idx].numpy()
    assert (evaluation["test_features"] == test_grey).all()


def test_other_tasks_are_evaluated_on_the_images(twins):
    trainer = Trainer(TrainConfig(task="rotation", budget=1, image_size=16, **FAST), twins)
    assert trainer.view == "image" and trainer.eval_inputs is twins.images and trainer.train_inputs is twins.images


def test_colorization_trains_on_the_images_its_task_turns_grey(twins):
    trainer = Trainer(TrainConfig(task="colorization", budget=1, image_size=16, **FAST), twins)
    assert trainer.train_inputs is twins.images  # make_batch takes the lightness itself


# -------------------------------------------------------------------------------------- fine-tunes
def test_a_finetune_of_a_colorization_run_carries_the_grey_view():
    source = TrainConfig(task="colorization", budget=1, **FAST).to_dict()
    tuned = finetune_config(source, "0123456789ab", 5)
    assert tuned.eval_view == "grey" and tuned.view == "grey"
    assert finetune_config(source, None, 5).eval_view is None  # supervised from scratch: the images
    other = finetune_config(TrainConfig(task="rotation", budget=1, **FAST).to_dict(), "0123456789ab", 5)
    assert other.eval_view is None and other.view == "image"
    old = {k: v for k, v in source.items() if k != "eval_view"}  # a config.json from before views
    assert source_view(old) == "grey" and TrainConfig.from_dict(old).view == "grey"
    assert TrainConfig.from_dict(tuned.to_dict()).view == "grey"  # survives its own config.json


def test_a_grey_finetune_trains_and_predicts_on_grey_inputs(twins, monkeypatch):
    source = TrainConfig(task="colorization", budget=1, image_size=16, **FAST).to_dict()
    config = dataclasses.replace(finetune_config(source, "0123456789ab", None, budget=0.3), probe_points=0)
    state = Trainer(TrainConfig(task="colorization", budget=1, image_size=16, **FAST), twins).backbone.state_dict()
    trainer = Trainer(config, twins, init_state=state)
    batches = []
    real = train_module.train_step
    monkeypatch.setattr(train_module, "train_step", lambda task, bb, head, opt, x, *a: batches.append(x) or real(task, bb, head, opt, x, *a))
    list(trainer.events())
    assert batches and all(torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2]) for x in batches)
    assert torch.equal(objective_inputs(config, Supervised(), twins.images), view_inputs("grey", twins.images))


def test_views_are_checked():
    with pytest.raises(ConfigError, match="eval_view"):
        TrainConfig(task=FINETUNE, eval_view="sepia", **FAST).validate()
    with pytest.raises(ConfigError, match="own input"):
        TrainConfig(task="rotation", eval_view="grey", **FAST).validate()
    with pytest.raises(ConfigError, match="text"):
        TrainConfig(task=FINETUNE, dataset="corpus", eval_view="grey").validate()


# ---------------------------------------------------------------------------------------- baseline
def test_the_random_init_baseline_is_evaluated_and_cached_per_view(twins, tmp_path, monkeypatch):
    colour, rotation, simclr = (TrainConfig(task=t, budget=1, **FAST) for t in ("colorization", "rotation", "simclr"))
    assert baseline_config(colour).view == "grey" and baseline_config(rotation).view == "image"
    keys = [_baseline_key(baseline_config(c)) for c in (colour, rotation, simclr)]
    assert keys[0] != keys[1] == keys[2]  # a view of its own; the images keep their old keys
    old = {k: getattr(rotation, k) for k in ("dataset", "n", "image_size", "backbone", "seed", "test_fraction")}
    assert keys[1].endswith(hashlib.sha256(json.dumps({**old, "version": BASELINE_VERSION}, sort_keys=True).encode()).hexdigest()[:16])

    seen = []
    real = experiment.extract_features
    monkeypatch.setattr(experiment, "extract_features", lambda bb, x, *a, **k: seen.append(x) or real(bb, x, *a, **k))
    config = TrainConfig(task="colorization", budget=1, image_size=16, **FAST)
    random_init_baseline(config, twins, tmp_path)
    assert seen and torch.equal(seen[0], view_inputs("grey", twins.images))


def test_results_say_what_a_run_was_evaluated_on():
    results = {"task": "colorization", "steps": 10, "test_images": 20, "num_classes": 4}
    assert "grey" not in context_line(results, {})  # runs from before views: the images
    assert context_line({**results, "eval_view": "image"}, {}) == context_line(results, {})
    assert context_line({**results, "eval_view": "grey"}, {}).endswith("evaluated on grey inputs")
