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
from sslcore.evaluate import embed_2d, evaluate_features, extract_features, nearest_neighbours
from sslcore.paths import data_dir as default_data_dir
from sslcore.train import RANDOM_INIT, TrainConfig, Trainer, device_name

BASELINE_VERSION = 1  # bump when evaluation changes, so stale cached baselines are recomputed
WORD_MAP_WORDS = 400


def evaluate_trainer(trainer: Trainer, embed: str = "tsne") -> dict:
    """Linear probe, kNN, 2-D map and neighbours of the test split, from the frozen backbone's features."""
    data, device = trainer.data, trainer.device
    tick = time.perf_counter()
    feats = extract_features(trainer.backbone, data.inputs, device)
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
    return out


def word_map(backbone, tokenizer, count: int = WORD_MAP_WORDS, skip_top: int = 40, seed: int = 0) -> dict:
    """2-D map and nearest words of the embedding table's word vectors (what skip-gram learns, and MLM too).

    The ``skip_top`` most frequent words (the, of, and...) are left out: they sit near everything.
    """
    counts = torch.tensor(tokenizer.counts, dtype=torch.float64)
    counts[~tokenizer.word_table()] = -1
    top = counts.argsort(descending=True)[skip_top : skip_top + count]
    ids = top[counts[top] >= 3]
    vectors = backbone.embed.weight.detach().float().cpu()[ids]
    return {
        "words": np.array(tokenizer.pieces(ids.tolist())),
        "word_coords": np.asarray(embed_2d(vectors, "tsne" if len(ids) > 50 else "pca", seed), dtype=np.float32),
        "word_neighbours": nearest_neighbours(vectors).numpy(),
    }


def _baseline_key(config: TrainConfig) -> str | None:
    if config.dataset not in DATASETS:
        return None  # the user's own files: no stable identity to cache under
    fields = {k: getattr(config, k) for k in ("dataset", "n", "image_size", "backbone", "seed", "test_fraction")}
    if config.modality == "text":
        fields["seq_len"] = config.seq_len
    fields["version"] = BASELINE_VERSION
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    return f"{config.dataset}-{config.backbone}-{config.image_size}px-seed{config.seed}-{digest}"


def random_init_baseline(config: TrainConfig, data: ImageDataset | TextDataset | None = None, data_dir=None) -> dict:
    """Probe and kNN accuracy of the same backbone, untrained, evaluated the same way. Cached on disk."""
    base = TrainConfig(**{**config.to_dict(), "task": RANDOM_INIT, "params": {}})
    key = _baseline_key(base)
    cache = default_data_dir(data_dir) / "cache" / "baselines" / f"{key}.json" if key else None
    if cache is not None and cache.is_file():
        try:
            return json.loads(cache.read_text())
        except json.JSONDecodeError:
            pass  # damaged cache: recompute
    trainer = Trainer(base, data)
    evaluation = evaluate_trainer(trainer, embed="pca")
    result = {"linear_probe": evaluation["linear_probe"], "knn": evaluation["knn"]}
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
) -> dict:
    """Train (unless random init), evaluate, attach the baseline, and write the run folder if asked.

    Returns the results dict (JSON-ready). A cancelled run returns status "cancelled" and saves nothing.
    """
    started = time.time()
    trainer = Trainer(config, data, cache_dir=default_data_dir(data_dir) / "cache")
    for event in trainer.events(should_stop):
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
        "config": config.to_dict(),
    }
    if trainer.status == "cancelled":
        return {"status": "cancelled", **base_info}
    if on_event is not None:
        on_event({"kind": "evaluating"})
    evaluation = evaluate_trainer(trainer, embed)
    if config.task == RANDOM_INIT:
        baseline = {"linear_probe": evaluation["linear_probe"], "knn": evaluation["knn"]}
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
        "timings": {**evaluation.get("timings", {}), "total": time.time() - started},
    }
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

