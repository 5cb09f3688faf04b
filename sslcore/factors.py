"""What the features keep: a probe per factor of variation (class, colours, texture, position, scale...).

A task that is too easy learns low-level features; a good one learns objects. When a dataset records the
factors that generated each example (``dataset.factors``; shapes does, the text sets record surface
factors of each sentence), that can be measured: train a linear read-out of each factor from the frozen
features on the training split and score it on the test split. Categorical factors are scored by
accuracy (chance = the most frequent value), continuous ones by R² (0 = no better than the mean).
Random init and raw pixels are the references every run is read against.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor

from sslcore.data.dataset import Factor
from sslcore.evaluate import _torch_threads, linear_probe

RIDGE = 0.1  # L2 of the read-out of continuous factors, relative to the mean squared feature
RAW_PIXEL_SIDE = 16  # raw-pixel reference: images average-pooled to 16×16×3 = 768 numbers


def ridge_r2(train_x, train_y, test_x, test_y, ridge: float = RIDGE) -> float:
    """Test R² of a ridge regression on standardised features (mean over output columns).

    Closed form in float64: on 1,500×256 features a few milliseconds. R² below 0 means worse than
    predicting the training mean; it is reported as is.
    """
    xtr, xte = torch.as_tensor(train_x).double(), torch.as_tensor(test_x).double()
    ytr, yte = torch.as_tensor(train_y).double(), torch.as_tensor(test_y).double()
    ytr, yte = ytr.reshape(len(ytr), -1), yte.reshape(len(yte), -1)
    mean, std = xtr.mean(0), xtr.std(0, unbiased=False)
    std = torch.where(std > 1e-6 * std.max().clamp(min=1e-12), std, torch.ones_like(std))
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    ymean = ytr.mean(0)
    if xtr.shape[1] > len(xtr):  # wide features (raw pixels): solve in the n×n dual
        gram = xtr @ xtr.T + ridge * len(xtr) * torch.eye(len(xtr), dtype=xtr.dtype)
        pred = xte @ (xtr.T @ torch.linalg.solve(gram, ytr - ymean)) + ymean
    else:
        gram = xtr.T @ xtr + ridge * len(xtr) * torch.eye(xtr.shape[1], dtype=xtr.dtype)
        pred = xte @ torch.linalg.solve(gram, xtr.T @ (ytr - ymean)) + ymean
    residual = (yte - pred).square().sum(0)
    total = (yte - yte.mean(0)).square().sum(0).clamp(min=1e-12)
    return float((1 - residual / total).mean())


@_torch_threads(1)  # tiny fits: one thread avoids OpenMP barriers (waits on a busy machine)
def factor_table(features, labels, factors: dict[str, Factor], train_idx, test_idx, class_names=None) -> dict:
    """One score per factor (and for the class), read out linearly from frozen features.

    Returns {"factors": {name: {"kind": "categorical"|"continuous", "metric": "accuracy"|"R²", "score",
    "chance"}}, "test_size", "seconds"}. The class comes first, then the dataset's probed factors.
    """
    tick = time.perf_counter()
    x = torch.as_tensor(features).float()
    train_idx, test_idx = torch.as_tensor(train_idx), torch.as_tensor(test_idx)
    columns = {"class": Factor(torch.as_tensor(labels), list(class_names or []))}
    columns.update({name: f for name, f in factors.items() if f.probe})
    out = {}
    for name, f in columns.items():
        values = f.values
        if f.categorical:
            ytr, yte = values[train_idx], values[test_idx]
            if len(torch.unique(ytr)) < 2:
                continue  # nothing to tell apart in this split
            counts = torch.bincount(yte)
            out[name] = {
                "kind": "categorical",
                "metric": "accuracy",
                "score": linear_probe(x[train_idx], ytr, x[test_idx], yte),
                "chance": float(counts.max()) / len(yte),
            }
        else:
            values = values.double()
            out[name] = {
                "kind": "continuous",
                "metric": "R²",
                "score": ridge_r2(x[train_idx], values[train_idx], x[test_idx], values[test_idx]),
                "chance": 0.0,
            }
    return {"factors": out, "test_size": len(test_idx), "seconds": time.perf_counter() - tick}


def raw_pixels(images: Tensor, side: int = RAW_PIXEL_SIDE) -> Tensor:
    """The raw-pixel reference representation: images average-pooled to side×side, flattened (N, 3·side²)."""
    x = images.float() / 255
    if x.shape[-1] > side:
        x = torch.nn.functional.adaptive_avg_pool2d(x, side)
    return x.flatten(1)
