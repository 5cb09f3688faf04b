"""Few labels, fine-tuning and factor probes: draws, the one fine-tune code path, and what probes measure."""

import json

import numpy as np
import pytest
import torch

from sslcore.cli import main
from sslcore.data import load_dataset
from sslcore.data.shapes import factor_record, make_shapes, render_shape
from sslcore.errors import ConfigError
from sslcore.evaluate import extract_features, fit_probe, split_indices
from sslcore.experiment import run_experiment
from sslcore.factors import factor_table, raw_pixels, ridge_r2
from sslcore.fewlabel import ALL, draw_per_class, label_curve
from sslcore.finetune import finetune_config
from sslcore.names import SCRATCH
from sslcore.runs import RunStore, Worker
from sslcore.train import FINETUNE, SUPERVISED, TrainConfig, Trainer

SMALL = dict(dataset="shapes", n=240, batch_size=32, probe_every=100.0, probe_size=20)


# ------------------------------------------------------------------------------------------ factors
def test_recorded_factors_redraw_every_image_exactly():
    ds = make_shapes(60, seed=5)
    for i in range(len(ds)):
        assert np.array_equal(render_shape(factor_record(ds.labels, ds.factors, i), 32), ds.images[i].numpy()), i
    part = ds.subset([7, 3])  # a subset keeps each image's factors with it
    assert np.array_equal(render_shape(factor_record(part.labels, part.factors, 1), 32), ds.images[3].numpy())


def test_shapes_record_the_issue_factors_and_they_vary():
    ds = make_shapes(300)
    probed = {name for name, f in ds.factors.items() if f.probe}
    assert probed == {"shape colour", "background colour", "background texture", "x", "y", "scale", "tilt"}
    assert ds.factors["shape colour"].values.shape == (300, 3)
    assert ds.factors["background texture"].categorical and len(torch.unique(ds.factors["background texture"].values)) == 5
    assert float(ds.factors["tilt"].values.abs().max()) <= 12.0 and float(ds.factors["x"].values.std()) > 1


def test_text_sets_record_surface_factors():
    corpus = load_dataset("corpus")
    f = corpus.factors
    assert set(f) == {"length", "position", "rare words"}
    assert all(len(v.values) == len(corpus) for v in f.values())
    assert float(f["position"].values.min()) == 0 and float(f["position"].values.max()) >= 3
    lengths = torch.tensor([len(s.split()) for s in corpus.names], dtype=torch.float64)
    assert torch.corrcoef(torch.stack([lengths, f["length"].values]))[0, 1] > 0.95


# ------------------------------------------------------------------------------------------ draws
def test_draws_are_stratified_deterministic_and_never_touch_the_test_split():
    labels = make_shapes(600).labels
    train, test = split_indices(labels, seed=0)
    a = draw_per_class(labels, train, 5, seed=1)
    assert torch.equal(a, draw_per_class(labels, train, 5, seed=1))
    assert not torch.equal(a, draw_per_class(labels, train, 5, seed=2))
    assert torch.bincount(labels[a], minlength=12).tolist() == [5] * 12
    assert not set(a.tolist()) & set(test.tolist()) and set(a.tolist()) <= set(train.tolist())
    assert set(draw_per_class(labels, train, 10, seed=1).tolist()) >= set(), "k=10 also fits"


def test_more_labels_than_a_class_has_is_an_error_that_names_the_class():
    labels = torch.tensor([0] * 10 + [1] * 3 + [2] * 10)
    with pytest.raises(ConfigError, match=r"class 'owl' has only 3 labelled training examples.*at most 3"):
        draw_per_class(labels, torch.arange(len(labels)), 4, seed=0, class_names=["cat", "owl", "dog"])


def test_label_curve_skips_k_that_do_not_fit_and_ends_with_all():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat_interleave(20)
    features = torch.randn(60, 8, generator=gen) + 4 * torch.nn.functional.one_hot(labels, 8)
    train, test = split_indices(labels, 0)
    curve = label_curve(features, labels, train, test, ks=(1, 5, 25), draws=3)
    assert [p["k"] for p in curve["points"]] == [1, 5, ALL] and curve["skipped"] == [25]
    assert curve["points"][1]["labels"] == 15 and len(curve["points"][0]["linear_probe"]["values"]) == 3
    assert curve["points"][-1]["linear_probe"]["median"] > 0.9 and curve["test_size"] == len(test)


# ------------------------------------------------------------------------------------------ fine-tuning
def _weights(trainer):
    return [*trainer.backbone.state_dict().values(), *trainer.head.state_dict().values()]


def test_finetune_from_random_init_is_bit_for_bit_supervised_from_scratch():
    source = TrainConfig(task="rotation", epochs=1, **SMALL).to_dict()
    tuned = finetune_config(source, None, 5, epochs=3)
    assert tuned.task == FINETUNE and tuned.init_from is None and tuned.backbone_lr_scale == 1 and not tuned.freeze_bn
    scratch = Trainer(tuned)
    list(scratch.events())
    supervised = Trainer(TrainConfig(**{**tuned.to_dict(), "task": SUPERVISED}))
    list(supervised.events())
    assert scratch.steps == supervised.steps == 3
    assert len(scratch.fit_idx) == 5 * 12
    assert all(torch.equal(a, b) for a, b in zip(_weights(scratch), _weights(supervised)))
    untrained = Trainer(TrainConfig(**{**tuned.to_dict(), "task": SUPERVISED, "seed": 1}))
    assert not torch.equal(_weights(untrained)[0], _weights(supervised)[0])  # the comparison can fail


def test_finetune_runs_through_the_worker_from_a_finished_run(tmp_path):
    store = RunStore(tmp_path)
    source_id = store.submit(TrainConfig(task="rotation", epochs=1, **SMALL))
    Worker(store).run(max_runs=1)
    source = store.get(source_id)
    assert source.status == "succeeded", source.error
    tuned_id = store.submit(finetune_config(source.config, source_id, 2, epochs=2))
    scratch_id = store.submit(finetune_config(source.config, None, 2, epochs=2))
    Worker(store).run(max_runs=2)
    tuned, scratch = store.get(tuned_id), store.get(scratch_id)
    assert tuned.status == scratch.status == "succeeded", (tuned.error, scratch.error)
    assert tuned.kind == FINETUNE
    summary = tuned.results["finetune"]
    assert summary["source_task"] == "rotation" and summary["labels"] == 24 and summary["labels_per_class"] == 2
    test_size = len(split_indices(make_shapes(240).labels, 0)[1])
    assert 0 <= summary["accuracy"] <= 1 and summary["test_size"] == test_size
    assert tuned.results["finetune"]["source_task"] == "rotation" and not scratch.results["finetune"].get("source_task")
    # the fine-tune started from the source's weights: its first step moved them only a little
    from sslcore import artifacts

    before = artifacts.load_backbone(store.run_dir(source_id)).state_dict()
    after = artifacts.load_backbone(store.run_dir(tuned_id)).state_dict()
    fresh = artifacts.load_backbone(store.run_dir(scratch_id)).state_dict()
    name = next(k for k in before if k.endswith("weight") and before[k].ndim == 4)
    assert (after[name] - before[name]).norm() < (fresh[name] - before[name]).norm()


def test_a_finetune_of_a_missing_or_unfinished_run_fails_clearly(tmp_path):
    store = RunStore(tmp_path)
    config = finetune_config(TrainConfig(task="rotation", **SMALL).to_dict(), "0123456789ab", 5, epochs=1)
    with pytest.raises(ConfigError, match="0123456789ab cannot be fine-tuned"):
        run_experiment(config, data_dir=tmp_path)
    run_id = store.submit(config)
    Worker(store).run(max_runs=1)
    assert "cannot be fine-tuned" in store.get(run_id).error


def test_cli_finetune_and_submit(tmp_path, capsys):
    store = RunStore(tmp_path)
    source_id = store.submit(TrainConfig(task="random_init", **SMALL))
    supervised_id = store.submit(TrainConfig(task=SUPERVISED, epochs=1, **SMALL))
    Worker(store).run(max_runs=2)
    assert main(["finetune", source_id, "--labels-per-class", "3", "--data-dir", str(tmp_path)]) == 2
    assert "random-init baseline" in capsys.readouterr().err
    args = ["--labels-per-class", "3", "--epochs", "2", "--data-dir", str(tmp_path)]
    assert main(["finetune", supervised_id, *args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["finetune"]["labels"] == 36
    assert main(["finetune", supervised_id, "--labels-per-class", "99", "--epochs", "1", "--data-dir", str(tmp_path)]) == 2
    assert "has only" in capsys.readouterr().err  # 99 per class do not exist: the class is named
    assert main(["submit", "--finetune", supervised_id, *args, "--no-worker"]) == 0
    queued = store.get(capsys.readouterr().out.strip())
    assert queued.kind == FINETUNE and queued.config["init_from"] == supervised_id and queued.status == "queued"


# ------------------------------------------------------------------------------------------ factor probes
def test_ridge_r2_recovers_a_linear_target_and_not_noise():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(400, 10, generator=gen)
    y = x @ torch.randn(10, generator=gen)
    assert ridge_r2(x[:300], y[:300], x[300:], y[300:]) > 0.95
    assert ridge_r2(x[:300], torch.randn(300, generator=gen), x[300:], torch.randn(100, generator=gen)) < 0.1


def test_raw_pixels_keep_colour_not_class_and_supervised_features_keep_class():
    """The sanity check that factor probes measure what they claim."""
    data = load_dataset("shapes", n=900)
    train, test = split_indices(data.labels, 0)
    pixels = factor_table(raw_pixels(data.images), data.labels, data.factors, train, test)["factors"]
    assert pixels["background colour"]["score"] > 0.95 and pixels["shape colour"]["score"] > 0.6
    config = TrainConfig(task=SUPERVISED, n=900, epochs=12, batch_size=64, probe_every=1e6)
    trainer = Trainer(config, data)
    list(trainer.events())
    feats = extract_features(trainer.backbone, data.images)
    learned = factor_table(feats, data.labels, data.factors, train, test)["factors"]
    assert learned["class"]["score"] > pixels["class"]["score"] + 0.25
    assert pixels["class"]["score"] < 0.3  # raw pixels are a poor classifier of shapes


def test_text_runs_fine_tune_per_topic_and_probe_surface_factors():
    config = TrainConfig(dataset="corpus", n=240, batch_size=32, probe_every=100.0, probe_size=20, seq_len=24)
    results = run_experiment(finetune_config({**config.to_dict(), "task": "random_init"}, None, 3, epochs=2), embed="pca")
    assert results["finetune"]["labels"] == 3 * 6 and results["steps"] == 2  # 3 sentences of each of 6 topics
    # a fine-tune is judged by its head: what its backbone kept is its source's to show, not measured again
    assert results["label_curve"] is None and "factors" not in results and results["stages"] is None
    results = run_experiment(TrainConfig(**{**config.to_dict(), "task": SUPERVISED, "epochs": 1, "budget": None}), embed="pca")
    table = results["factors"]["factors"]
    assert set(table) == {"class", "length", "position", "rare words"} and table["length"]["metric"] == "R²"
    assert [p["k"] for p in results["label_curve"]["points"]][-1] == ALL


def test_compare_reports_probe_and_finetune_at_k(capsys):
    args = ["compare", "--tasks", "rotation", "--no-supervised", "--n", "160", "--epochs", "1", "--batch-size", "32"]
    assert main([*args, "--labels-per-class", "2", "--finetune-epochs", "2", "--json"]) == 0
    few = json.loads(capsys.readouterr().out)["few_labels"]
    assert [r["run"] for r in few] == [SCRATCH, "rotation"]
    assert few[0]["linear_probe"] is None and 0 <= few[1]["linear_probe"] <= 1
    assert all(0 <= r["finetune"] <= 1 and r["finetune_steps"] == 2 and r["labels_per_class"] == 2 for r in few)
    assert main([*args, "--labels-per-class", "lots"]) == 2
    assert "whole number or 'all'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ the fine-tune recipe
def _source(epochs=1):
    config = TrainConfig(task="rotation", epochs=epochs, **SMALL)
    trainer = Trainer(config)
    list(trainer.events())
    return config, trainer.backbone.state_dict()


def _bn_stats(backbone):
    return [m.running_mean.clone() for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def test_lp_ft_head_starts_as_the_fitted_probe():
    from sslcore.evaluate import probe_predictions

    config, state = _source()
    tuned = finetune_config(config.to_dict(), "0123456789ab", 5)
    trainer = Trainer(tuned, init_state=state)
    feats = extract_features(trainer.backbone, trainer.data.inputs)
    labels = trainer.data.labels
    expected = probe_predictions(feats[trainer.fit_idx], labels[trainer.fit_idx], feats[trainer.test_idx], labels[trainer.test_idx])
    with torch.no_grad():
        first = trainer.head(feats[trainer.test_idx]).argmax(1)
    assert torch.equal(first, expected)
    assert trainer.start_probe["accuracy"] == pytest.approx(float((expected == labels[trainer.test_idx]).float().mean()))


def test_batchnorm_statistics_stay_frozen_with_few_labels_and_train_with_all():
    config, state = _source()
    few = finetune_config(config.to_dict(), "0123456789ab", 5, epochs=2)
    assert few.freeze_bn
    trainer = Trainer(few, init_state=state)
    before = _bn_stats(trainer.backbone)
    list(trainer.events())
    assert trainer.steps == 2 and all(torch.equal(a, b) for a, b in zip(before, _bn_stats(trainer.backbone)))
    every = finetune_config(config.to_dict(), "0123456789ab", None, epochs=1)
    assert not every.freeze_bn and not finetune_config(config.to_dict(), None, 5).freeze_bn  # scratch trains BN
    trainer = Trainer(every, init_state=state)
    before = _bn_stats(trainer.backbone)
    list(trainer.events())
    assert not any(torch.equal(a, b) for a, b in zip(before, _bn_stats(trainer.backbone)))


def test_a_finetune_trains_the_label_curves_draws():
    from sslcore.fewlabel import draw_seed

    config = finetune_config(TrainConfig(task="rotation", **SMALL).to_dict(), None, 3)
    labels = load_dataset("shapes", n=240).labels
    train, _ = split_indices(labels, config.seed)
    for d in range(config.draws):
        trainer = Trainer(config, draw=d)
        assert torch.equal(trainer.fit_idx, draw_per_class(labels, train, 3, draw_seed(config.seed, d)))
    assert draw_seed(config.seed, 0) == config.seed * 1000  # label_curve's draw 0


def test_the_length_is_epochs_over_the_labelled_set_capped_in_steps():
    from sslcore import finetune

    source = TrainConfig(task="rotation", **SMALL).to_dict()
    one = Trainer(finetune_config(source, None, 1))  # 12 images: one step an epoch
    assert one.budget.total_steps == finetune.EPOCHS
    assert finetune_config(source, None, None).batch_size == finetune.BATCH_SIZE != source["batch_size"]
    every = Trainer(finetune_config(source, None, None, batch_size=32))  # 180 images, batch 32: 5 steps an epoch
    assert every.budget.total_steps == min(finetune.MAX_STEPS, 5 * finetune.EPOCHS)
    big = Trainer(finetune_config({**source, "n": 2000}, None, None, batch_size=32))  # 1500 images: 46 steps an epoch
    assert big.budget.total_steps == finetune.MAX_STEPS
    assert Trainer(finetune_config(source, None, 1, epochs=2)).budget.total_steps == 2  # an explicit length wins


def test_a_finetune_run_scores_its_draws_with_honest_progress():
    config, state = _source()
    tuned = finetune_config(config.to_dict(), "0123456789ab", 2, epochs=3)
    events = []
    results = run_experiment(tuned, embed="pca", source=(config.to_dict(), state), on_event=events.append, label_ks=(1,))
    summary = results["finetune"]
    assert summary["draws"] == 3 and len(summary["spread"]["values"]) == 3 and summary["steps"] == 3
    assert summary["accuracy"] == summary["spread"]["median"] and len(summary["probe"]["values"]) == 3
    steps = [e for e in events if e["kind"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 10)) and steps[-1]["progress"] == 1
    assert all(a["progress"] <= b["progress"] for a, b in zip(steps, steps[1:]))
    assert [e["draws"] for e in events if e["kind"] == "start"] == [3]
    stops = iter([False] * 4 + [True] * 100)  # cancelled during the second draw
    cancelled = run_experiment(tuned, embed="pca", source=(config.to_dict(), state), should_stop=lambda: next(stops))
    assert cancelled["status"] == "cancelled"


def test_with_many_labels_a_fine_tune_is_scratchs_recipe_from_the_source_backbone():
    from sslcore import finetune

    config, state = _source()
    few, many = (finetune_config(config.to_dict(), "0123456789ab", k) for k in (5, None))
    scratch = finetune_config(config.to_dict(), None, None)
    assert few.head_from_probe and few.freeze_bn and few.lr == finetune.HEAD_LR
    assert not many.head_from_probe and not many.freeze_bn and many.lr == scratch.lr == finetune.SCRATCH_LR
    assert many.backbone_lr_scale == scratch.backbone_lr_scale == 1.0
    trainer = Trainer(many, init_state=state)
    feats = extract_features(trainer.backbone, trainer.data.inputs[trainer.fit_idx])
    fit = fit_probe(feats, trainer.data.labels[trainer.fit_idx])
    weight, _ = fit.as_linear(trainer.head.out_features)
    assert not torch.allclose(trainer.head.weight, weight)  # a fresh head...
    assert 0 <= trainer.start_probe["accuracy"] <= 1  # ...but the probe on the same draw is still the reference


def test_a_fine_tune_augments_only_in_ways_that_keep_its_data_sets_labels():
    """A mirrored digit is no digit: fine-tunes of digits never mirror and keep most of the image; shapes' mirror."""
    from sslcore.tasks import run_objective

    shapes = finetune_config(TrainConfig(task="rotation", **SMALL).to_dict(), None, 1)
    digits = finetune_config(TrainConfig(task="rotation", dataset="digits", n=200).to_dict(), "0123456789ab", 1)
    own = finetune_config(TrainConfig(task="rotation", dataset="/some/folder.zip").to_dict(), None, 1)
    assert shapes.params == own.params and digits.params["crop_min"] > shapes.params["crop_min"]
    ramp = torch.linspace(0, 255, 32).round().to(torch.uint8).expand(64, 3, 32, 32).contiguous()  # dark left

    def mirrored(config) -> int:
        batch = run_objective(FINETUNE, config.params, 10).make_batch(ramp, torch.Generator().manual_seed(0))
        return int((batch.inputs[..., :16].mean((1, 2, 3)) > batch.inputs[..., 16:].mean((1, 2, 3))).sum())

    assert mirrored(digits) == 0 and mirrored(shapes) > 10
