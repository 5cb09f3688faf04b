"""Few labels: how good are frozen features when only k labelled examples per class are available?

Pretext features pay off when labels are scarce, so every finished run gets a label-efficiency curve:
a linear probe and a kNN vote trained on k examples per class, k in LABELS_PER_CLASS ("all" = the whole
training split), each k drawn DRAWS times (stratified, from the run's training split only, so never from
the test split) and scored on the run's usual test split. Cached features make it cheap (well under the
3 s per run the Results page can afford; measured in benchmarks/few_labels.py).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from torch import Tensor

from sslcore.errors import ConfigError
from sslcore.evaluate import _hash_keys, _torch_threads, knn_accuracy, linear_probe

LABELS_PER_CLASS = (1, 5, 10, 25)  # and "all" (the whole training split)
DRAWS = 5  # draws per k: the spread shows how much one unlucky handful of labels moves the result
ALL = "all"


def draw_seed(seed: int, draw: int) -> int:
    """The key of draw ``draw`` of a run with seed ``seed``: the label curve's draws and a fine-tune's are the same."""
    return seed * 1000 + draw


def draw_per_class(labels, pool, k: int, seed: int, class_names: list[str] | None = None) -> Tensor:
    """``k`` indices of each class from ``pool`` (indices into ``labels``), sorted; the same for the same seed.

    Deterministic everywhere: each pool index gets a splitmix64 key of (seed, index), as the train/test
    split does, and every class keeps its k smallest keys. Classes absent from the pool are skipped; a
    class with fewer than k examples in the pool is a ConfigError that names it.
    """
    labels = torch.as_tensor(labels)
    pool = torch.as_tensor(pool, dtype=torch.long)
    if not isinstance(k, int) or k < 1:
        raise ConfigError(f"labels per class must be a whole number of at least 1, got {k!r}")
    y = labels[pool].numpy()
    keys = _hash_keys(int(pool.max()) + 1 if len(pool) else 0, seed)[pool.numpy()]
    order = np.lexsort((keys, y))  # grouped by class, shuffled by key within each class
    classes, starts, counts = np.unique(y[order], return_index=True, return_counts=True)
    short = [(c, n) for c, n in zip(classes.tolist(), counts.tolist()) if n < k]
    if short:
        c, n = min(short, key=lambda cn: cn[1])
        name = class_names[c] if class_names and 0 <= c < len(class_names) else str(c)
        raise ConfigError(
            f"class {name!r} has only {n} labelled training example{'s' * (n != 1)}, fewer than the {k} per class "
            f"asked for; choose at most {n} labels per class"
        )
    picked = np.concatenate([order[s : s + k] for s in starts.tolist()]) if len(starts) else np.array([], int)
    return torch.from_numpy(np.sort(pool.numpy()[picked]))


def smallest_class(labels, pool) -> int:
    """Examples in the rarest class of ``pool``: the largest k that every class can give."""
    counts = torch.bincount(torch.as_tensor(labels)[torch.as_tensor(pool, dtype=torch.long)])
    return int(counts[counts > 0].min()) if len(counts) else 0


def summarise(values: list[float]) -> dict:
    """Median, mean and spread of one k's draws (the spread is what a single draw would hide)."""
    return {
        "median": statistics.median(values),
        "mean": statistics.fmean(values),
        "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "values": values,
    }


@_torch_threads(1)  # tiny fits: one thread avoids OpenMP barriers (waits on a busy machine)
def label_curve(
    features,
    labels,
    train_idx,
    test_idx,
    *,
    seed: int = 0,
    ks=LABELS_PER_CLASS,
    draws: int = DRAWS,
    class_names: list[str] | None = None,
    full: dict | None = None,
) -> dict:
    """Probe and kNN test accuracy of frozen ``features`` with k labels per class, for every k that fits.

    Returns {"points": [{"k", "labels", "draws", "linear_probe": summary, "knn": summary}...], "skipped":
    [k too large for the rarest class], "test_size", "chance", "seconds", "cpu_seconds"}; k = "all" is last. ``full``
    reuses an already computed {"linear_probe", "knn"} on the whole training split.
    """
    tick, cpu = time.perf_counter(), time.process_time()
    x = torch.as_tensor(features).float()
    y = torch.as_tensor(labels)
    train_idx, test_idx = torch.as_tensor(train_idx), torch.as_tensor(test_idx)
    room = smallest_class(y, train_idx)
    points, skipped = [], [k for k in ks if k > room]
    test_x, test_y = x[test_idx], y[test_idx]
    for k in [k for k in ks if k <= room]:
        probe, knn = [], []
        for d in range(draws):
            idx = draw_per_class(y, train_idx, k, draw_seed(seed, d), class_names)
            probe.append(linear_probe(x[idx], y[idx], test_x, test_y))
            knn.append(knn_accuracy(x[idx], y[idx], test_x, test_y))
        points.append(
            {"k": k, "labels": int(len(idx)), "draws": draws, "linear_probe": summarise(probe), "knn": summarise(knn)}
        )
    if full is None:
        full = {
            "linear_probe": linear_probe(x[train_idx], y[train_idx], test_x, test_y),
            "knn": knn_accuracy(x[train_idx], y[train_idx], test_x, test_y),
        }
    points.append(
        {
            "k": ALL,
            "labels": len(train_idx),
            "draws": 1,
            "linear_probe": summarise([full["linear_probe"]]),
            "knn": summarise([full["knn"]]),
        }
    )
    n_classes = len(torch.unique(y[train_idx]))
    return {
        "points": points,
        "skipped": skipped,
        "test_size": len(test_idx),
        "chance": 1 / max(n_classes, 1),
        "seconds": time.perf_counter() - tick,
        "cpu_seconds": time.process_time() - cpu,  # what it costs on an idle machine (wall time grows with load)
    }


def parse_labels_per_class(value) -> int | None:
    """``--labels-per-class`` as given: a whole number >= 1, or "all" (None)."""
    if value is None or str(value).strip().lower() == ALL:
        return None
    try:
        k = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"labels per class must be a whole number or 'all', got {value!r}") from None
    if k < 1:
        raise ConfigError(f"labels per class must be at least 1, got {k}")
    return k
