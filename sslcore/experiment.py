"""A whole run: train, evaluate the frozen backbone, compare with the random-init baseline, save.

This is what the CLI's ``train`` / ``compare`` and the background worker call.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from sslcore import artifacts
from sslcore.context import loss_trend
from sslcore.data import DATASETS, ImageDataset, TextDataset
from sslcore.device import device_name
from sslcore.evaluate import embed_2d, evaluate_features, extract_features, nearest_neighbours, stage_probes
from sslcore.factors import factor_table, raw_pixels
from sslcore.fewlabel import LABELS_PER_CLASS, label_curve, summarise
from sslcore.finetune import load_source, source_dir, train_draws
from sslcore.kinds import BASELINE_OVERRIDES
from sslcore.paths import data_dir as default_data_dir
from sslcore.records import Progress, RunResults
from sslcore.train import FINETUNE, RANDOM_INIT, TrainConfig, Trainer

BASELINE_VERSION = 3  # bump when evaluation changes, so stale cached baselines are recomputed
WORD_MAP_WORDS = 400
BASELINE_FIELDS = ("linear_probe", "knn", "label_curve", "factors", "stages")  # what a run's random-init baseline keeps


def evaluate_trainer(trainer: Trainer, embed: str = "tsne", label_ks=LABELS_PER_CLASS, full: bool = True) -> dict:
    """Linear probe, kNN, 2-D map and neighbours of the test split, from the frozen backbone's features of the
    run's evaluation view (``trainer.eval_inputs``: grey inputs for colorization, else the images). ``full``
    adds what the backbone kept: the few-label curve, the factor probes and the probe per stage (a
    fine-tune skips them: the pages read those of its source, and its own number is its fine-tuned head's)."""
    data, device = trainer.data, trainer.device
    tick = time.perf_counter()
    extracted = extract_features(trainer.backbone, trainer.eval_inputs, device, stages=full)
    feats, stage_feats = extracted if full else (extracted, None)
    extract_s = time.perf_counter() - tick
    labels = data.labels
    out = evaluate_features(
        feats[trainer.train_idx],
        labels[trainer.train_idx],
        feats[trainer.test_idx],
        labels[trainer.test_idx],
        embed=embed,
        seed=trainer.config.seed,
    )
    out.setdefault("timings", {})["features"] = extract_s
    out["test_features"] = feats[trainer.test_idx].numpy()
    if not full:
        return out
    out.update(what_it_kept(feats, trainer, out, label_ks))
    out["timings"]["label_curve"] = out["label_curve"]["seconds"]
    tick = time.perf_counter()  # which layer holds the class: the same probe on each stage's pooled output
    known = (feats, out["linear_probe"])  # a stage equal to the final features keeps the run's own probe
    out["stages"] = stage_probes(stage_feats, labels, trainer.train_idx, trainer.test_idx, known)
    out["timings"]["stages"] = time.perf_counter() - tick
    if "factors" in out:
        out["timings"]["factors"] = out["factors"]["seconds"]
    return out


def what_it_kept(feats, trainer: Trainer, full: dict | None = None, ks=LABELS_PER_CLASS) -> dict:
    """The few-label curve and, when the dataset records factors, the factor probes, of these features."""
    data, cfg = trainer.data, trainer.config
    split = (data.labels, trainer.train_idx, trainer.test_idx)
    curve = label_curve(feats, *split, seed=cfg.seed, ks=ks, class_names=data.class_names, full=full)
    factors = kept_factors(feats, trainer)
    return {"label_curve": curve, **({"factors": factors} if factors is not None else {})}


def kept_factors(feats, trainer: Trainer) -> dict | None:
    """The factor probes of these features on the trainer's split; None when the dataset records no factors."""
    data = trainer.data
    if not getattr(data, "factors", None):
        return None
    return factor_table(feats, data.labels, data.factors, trainer.train_idx, trainer.test_idx, data.class_names)


def baseline_of(evaluation: dict) -> dict:
    """The part of an untrained network's evaluation that every result carries as its baseline."""
    return {key: evaluation[key] for key in BASELINE_FIELDS if key in evaluation}


def finetune_summary(trainers: list[Trainer], source: dict | None, test_features: torch.Tensor) -> dict:
    """Test accuracy of each draw's fine-tuned network itself (backbone + its linear head), summarised, beside
    the frozen probe of the starting backbone on the same draws, and what they rest on.
    ``test_features``: draw 0's backbone features of the test split, as the evaluation extracted them."""
    first = trainers[0]
    truth = first.data.labels[first.test_idx]
    accuracies = []
    for i, trainer in enumerate(trainers):
        feats = test_features if i == 0 else extract_features(trainer.backbone, trainer.eval_inputs[trainer.test_idx], trainer.device)
        head = trainer.head.eval().cpu()
        with torch.no_grad():
            accuracies.append(float((head(feats).argmax(1) == truth).float().mean()))
    tuned = summarise(accuracies)
    probes = [t.start_probe["accuracy"] for t in trainers if t.start_probe is not None]
    config = first.config
    return {
        "accuracy": tuned["median"],  # the median over the draws (readers before draws read this one number)
        "spread": tuned,
        "probe": summarise(probes) if len(probes) == len(trainers) else None,  # frozen start, same draws
        "draws": len(trainers),
        "labels_per_class": config.labels_per_class,
        "labels": len(first.fit_idx),
        "test_size": len(first.test_idx),
        "steps": first.steps,  # per draw
        "freeze_bn": config.freeze_bn,
        "backbone_lr": (config.lr or 0.0) * config.backbone_lr_scale,
        "source_task": source["task"] if source else None,
        "init_from": config.init_from,
    }


def word_map(backbone, tokenizer, count: int = WORD_MAP_WORDS, skip_top: int = 40, seed: int = 0) -> dict:
    """2-D map and nearest words of the embedding table's word vectors (what skip-gram learns, and MLM too).

    The ``skip_top`` most frequent words (the, of, and...) are left out: they sit near everything.
    """
    counts = torch.tensor(tokenizer.counts, dtype=torch.float64)
    counts[~tokenizer.word_table()] = -1
    top = counts.argsort(descending=True)[skip_top : skip_top + count]
    ids = top[counts[top] >= 3]
    vectors = backbone.input_embedding().weight.detach().float().cpu()[ids]
    return {
        "words": np.array(tokenizer.pieces(ids.tolist())),
        "word_coords": np.asarray(embed_2d(vectors, "tsne" if len(ids) > 50 else "pca", seed), dtype=np.float32),
        "word_neighbours": nearest_neighbours(vectors).numpy(),
    }


def _baseline_key(config: TrainConfig) -> str | None:
    if config.dataset not in DATASETS:
        return None  # the user's own files: no stable identity to cache under
    fields = {k: getattr(config, k) for k in ("dataset", "n", "image_size", "backbone", "seed", "test_fraction")}
    if config.backbone_args:  # only when set, so the default backbone's cached baselines keep their keys
        fields["backbone_args"] = config.backbone_args
    if config.modality == "text":
        fields["seq_len"] = config.seq_len
    if config.view != "image":  # only when set, so baselines on the images themselves keep their keys
        fields["eval_view"] = config.view
    fields["version"] = BASELINE_VERSION
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    return f"{config.dataset}-{config.backbone}-{config.image_size}px-seed{config.seed}-{digest}"


def baseline_config(config: TrainConfig) -> TrainConfig:
    """The random-init baseline's config of a run: same data, split and backbone, no training, and the run's
    evaluation view (a colorization run's baseline is evaluated on grey inputs too)."""
    view = None if config.view == "image" else config.view
    return TrainConfig(**{**config.to_dict(), **BASELINE_OVERRIDES, "eval_view": view})


def random_init_baseline(config: TrainConfig, data: ImageDataset | TextDataset | None = None, data_dir=None) -> dict:
    """Probe and kNN accuracy of the same backbone, untrained, evaluated the same way (on the same view: a
    colorization run's baseline sees grey inputs too). Cached on disk, per view."""
    cache = baseline_cache(config, data_dir)
    if cache is not None and cache.is_file():
        try:
            return json.loads(cache.read_text())
        except json.JSONDecodeError:
            pass  # damaged cache: recompute
    trainer = Trainer(baseline_config(config), data)
    return keep_baseline(trainer, evaluate_trainer(trainer, embed="pca"), cache)


def baseline_cache(config: TrainConfig, data_dir=None) -> Path | None:
    """Where the random-init baseline of ``config``'s data, backbone and view is cached (None: not cacheable)."""
    key = _baseline_key(baseline_config(config))
    return default_data_dir(data_dir) / "cache" / "baselines" / f"{key}.json" if key else None


def keep_baseline(trainer: Trainer, evaluation: dict, cache: Path | None) -> dict:
    """The baseline fields of an untrained ``trainer``'s evaluation, with the raw-pixel factor reference for
    images, written to ``cache``: a comparison's random-init run computes it once for all its runs."""
    result = baseline_of(evaluation)
    if trainer.data.modality == "image":  # the other reference: what the pixels themselves show of each factor
        raw = kept_factors(raw_pixels(trainer.eval_inputs), trainer)
        if raw is not None:
            result["raw_pixels"] = {"factors": raw}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        artifacts.write_json(cache, result)
    return result


def run_experiment(
    config: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    should_stop: Callable[[], bool] | None = None,
    on_event: Callable[[dict], None] | None = None,
    data: ImageDataset | TextDataset | None = None,
    data_dir=None,
    embed: str = "tsne",
    source: tuple[dict, dict] | None = None,
    label_ks=LABELS_PER_CLASS,
) -> dict:
    """Train (unless random init), evaluate, attach the baseline, and write the run folder if asked.

    Returns the results dict (JSON-ready). A cancelled run returns status "cancelled" and saves nothing.
    A fine-tune (``config.init_from``) reads its source run's folder in the data dir, unless ``source``
    gives its (config, backbone state) directly. ``label_ks``: the labels per class of the few-label curve.
    """
    started = time.time()
    if config.init_from is not None and source is None:
        source = load_source(source_dir(default_data_dir(data_dir), config.init_from), config.init_from)
    source_config, init_state = source if config.init_from is not None else (None, None)
    cache_dir = default_data_dir(data_dir) / "cache"
    trainer = Trainer(config, data, cache_dir=cache_dir, init_state=init_state)
    trainers = [trainer]  # a fine-tune trains its label draws one after the other, as this one run
    if config.task == FINETUNE:
        events = train_draws(trainers, lambda d: Trainer(config, trainer.data, cache_dir, init_state, draw=d), should_stop)
    else:
        events = trainer.events(should_stop)
    for event in events:
        if on_event is not None:
            on_event(event)
    base_info = {
        "task": config.task,
        "dataset": config.dataset,
        "device": device_name(trainer.device),
        "train_images": len(trainer.train_idx),
        "test_images": len(trainer.test_idx),
        "num_classes": len(trainer.data.class_names),
        **trainer.accounting(),  # steps, images_seen, flops, wall_s, under_budget (and the plan)
        "train_seconds": trainer.train_seconds,
        "probe_curve": [{k: p[k] for k in ("elapsed", "step", "flops", "knn")} for p in trainer.probes],
        "eval_view": trainer.view,  # what its features were evaluated on (sslcore.tasks.EVAL_VIEWS)
        "config": config.to_dict(),
    }
    if any(t.status == "cancelled" for t in trainers):
        return {"status": "cancelled", **base_info}
    if on_event is not None:
        on_event(Progress.named({"kind": "evaluating"}))
    evaluation = evaluate_trainer(trainer, embed, label_ks, full=config.task != FINETUNE)
    if config.task == RANDOM_INIT:  # it is the baseline: kept for the comparison's other runs
        full_curve = tuple(label_ks) == tuple(LABELS_PER_CLASS)  # the cache holds the whole curve
        baseline = keep_baseline(trainer, evaluation, baseline_cache(config, data_dir) if full_curve else None)
    else:
        baseline = random_init_baseline(config, trainer.data, data_dir)
    task = trainer.task
    results = {
        "status": "finished",
        **base_info,
        "pretext_metric": trainer.final_metric(),
        "metric_label": task.metric_label if task else None,
        "linear_probe": evaluation["linear_probe"],
        "knn": evaluation["knn"],
        "confusion": evaluation["confusion"],
        "loss_trend": loss_trend([e["loss"] for e in trainer.history]),
        "baseline": baseline,
        "class_names": trainer.data.class_names,
        "label_curve": evaluation.get("label_curve"),
        "timings": {**evaluation.get("timings", {}), "total": time.time() - started},
    }
    if "factors" in evaluation:
        results["factors"] = evaluation["factors"]
    results["stages"] = evaluation.get("stages")
    if config.task == FINETUNE:
        results["finetune"] = finetune_summary(trainers, source_config, torch.from_numpy(evaluation["test_features"]))
    RunResults.named(results)
    if out_dir is not None:
        test_idx = trainer.test_idx.numpy()
        embedding = {
            "coords": np.asarray(evaluation["embedding"], dtype=np.float32),
            "labels": trainer.data.labels[trainer.test_idx].numpy(),
            "indices": test_idx,
            "neighbours": np.asarray(evaluation["neighbours"]),
            "features": evaluation["test_features"].astype(np.float16),  # for the Embedding Projector export
        }
        if trainer.data.modality == "text" and config.dataset in DATASETS and task is not None:
            # built-in text only: words of someone's upload must not show on the shared Results page
            embedding.update(word_map(trainer.backbone, trainer.data.tokenizer, seed=config.seed))
        artifacts.save_run(
            Path(out_dir), config.to_dict(), results, trainer.history, trainer.backbone, trainer.head, embedding
        )
    return results

