"""Evaluation of a frozen backbone: features, linear probe, weighted kNN, 2-D maps and nearest neighbours.

Every comparison in Pretext Lab (a pretext task against the random-init baseline, one task against
another) goes through these functions, so they are deterministic for a given input and seed, bounded in
time, and never import streamlit. Speed and quality against scikit-learn are measured by
``benchmarks/embedding.py`` (see docs/benchmarks.md).
"""

import logging
import math
import time
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslcore.errors import ConfigError

log = logging.getLogger(__name__)

PROBE_WEIGHT_DECAY = 1e-3  # L2 on the mean cross-entropy; about scikit-learn's C=0.7 at 1,500 samples
PROBE_MAX_ITER = 100
KNN_K = 20
KNN_TEMPERATURE = 0.07
NEIGHBOURS_K = 8
TSNE_PERPLEXITY = 30.0
TSNE_PCA_DIMS = 50  # P is computed on the top-50 principal axes, as in van der Maaten's reference code
TSNE_EXACT_MAX = 10_000  # above this the O(N²) exact gradient gets slow and memory-hungry
EMBED_METHODS = ("tsne", "pca")
_CHUNK_ELEMENTS = 1 << 22  # 16 MB of float32 per similarity block keeps kNN memory bounded at any N
_TSNE_BLOCK_ELEMENTS = 1 << 19  # 2 MB float32 row blocks stay in a CPU's cache (beat 2^17 and 2^21-2^23 when tuned)


# ------------------------------------------------------------------------------------------------ features
def extract_features(
    backbone: nn.Module, images: Tensor, device="cpu", batch_size: int = 512, *, stages: bool = False
) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
    """Pooled features of uint8 images (N,3,H,W) or token rows as a float32 CPU tensor (N, D), the backbone
    left as found.

    ``stages=True`` also returns each of the backbone's stages (``backbone.stages()``), globally pooled
    (``backbone.pool_stage``), from the same forward pass: ``(features, {stage name: (N, D_stage)})``. Forward
    hooks collect them; they are removed however the pass ends, and the final features are the same as without.

    Images stay uint8 until a chunk reaches the device (4x less to copy than float). Inputs are
    channels_last, the layout training uses (faster there on the CPUs we tried; for this forward-only pass the
    two layouts were on par when it was tuned). bf16 autocast on CUDA only: CPU bf16 is
    slower than float32 on most CPUs. The backbone's train/eval mode and device are restored afterwards, so evaluating
    mid-training cannot leave BatchNorm in the wrong mode or its running statistics changed.
    """
    text = isinstance(images, Tensor) and images.dtype == torch.long and images.ndim in (2, 3)
    image = isinstance(images, Tensor) and images.dtype == torch.uint8 and images.ndim == 4 and images.shape[1] == 3
    if not (text or image):
        got = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, Tensor) else type(images).__name__
        raise ConfigError(f"extract_features needs uint8 images (N, 3, H, W) or token ids (N, L), got {got}")
    if len(images) == 0:
        raise ConfigError("extract_features got no images")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    device = torch.device(device)
    was_training = backbone.training
    first = next(backbone.parameters(), None)
    home = first.device if first is not None else device
    backbone.eval()
    if home != device:
        backbone.to(device)
    use_autocast = device.type == "cuda"
    out = []
    pooled: dict[str, list[Tensor]] = {}
    batch: list[Tensor] = []  # the batch now going through the backbone, for the hooks' pooling
    hooks = []
    try:
        for name, module in backbone.stages() if stages else []:
            pooled[name] = []
            hooks.append(module.register_forward_hook(_stage_hook(backbone, pooled[name], batch)))
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_autocast):
            for start in range(0, len(images), batch_size):
                x = images[start : start + batch_size].to(device, non_blocking=True)
                if image:
                    x = x.contiguous(memory_format=torch.channels_last).float().div_(255)  # float() keeps the layout
                batch[:] = [x]
                out.append(backbone(x).float().cpu())
    finally:
        for hook in hooks:
            hook.remove()
        if home != device:
            backbone.to(home)
        backbone.train(was_training)
    if stages:
        return torch.cat(out), {name: torch.cat(parts) for name, parts in pooled.items()}
    return torch.cat(out)


def _stage_hook(backbone, into: list, batch: list):
    """A forward hook that pools its module's output for the current batch and keeps it (float32, CPU)."""

    def hook(module, inputs, output):
        into.append(backbone.pool_stage(output, batch[0]).float().cpu())

    return hook


# ------------------------------------------------------------------------------------------------ splits
def split_indices(labels, seed: int, test_fraction: float = 0.25) -> tuple[Tensor, Tensor]:
    """Stratified (train_idx, test_idx), sorted LongTensors, identical for the same labels and seed anywhere.

    Each index gets a key from a fixed integer hash (splitmix64) of (seed, index) instead of a library RNG,
    whose streams are allowed to change between numpy/torch versions: a stored run's split must be
    reproducible later. Each class puts round(n_c * test_fraction) examples, clamped to 1..n_c-1, in the
    test set, so every class with at least 2 examples appears in both; a single example goes to train.
    """
    y = _labels(labels, "labels")
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    classes = torch.unique(y)
    if len(classes) < 2:
        raise ConfigError(f"a split needs at least 2 classes, got {len(classes)}")
    y_np = y.numpy()
    keys = _hash_keys(len(y_np), seed)
    order = np.lexsort((keys, y_np))  # grouped by class, shuffled by key within each class
    counts = np.bincount(np.searchsorted(classes.numpy(), y_np), minlength=len(classes))
    is_test = np.zeros(len(y_np), dtype=bool)
    start = 0
    for count in counts.tolist():
        n_test = min(max(round(count * test_fraction), 1), count - 1) if count >= 2 else 0
        is_test[order[start : start + n_test]] = True
        start += count
    return torch.from_numpy(np.flatnonzero(~is_test)), torch.from_numpy(np.flatnonzero(is_test))


def _hash_keys(n: int, seed: int) -> np.ndarray:
    """splitmix64 of (seed, index): uint64 arithmetic that wraps the same way on every platform."""
    with np.errstate(over="ignore"):
        x = np.arange(n, dtype=np.uint64) + np.uint64(seed % 2**64) * np.uint64(0x9E3779B97F4A7C15)
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


# ------------------------------------------------------------------------------------------------ probes
def linear_probe(train_x, train_y, test_x, test_y, max_iter: int = PROBE_MAX_ITER) -> float:
    """Test accuracy of a multinomial logistic regression on standardised frozen features."""
    return float((probe_predictions(train_x, train_y, test_x, test_y, max_iter) == _labels(test_y, "test_y")).float().mean())


def probe_predictions(train_x, train_y, test_x, test_y, max_iter: int = PROBE_MAX_ITER) -> Tensor:
    """The linear probe's predicted label for every test example (the labels' own values).

    Full-batch L-BFGS in torch with a fixed L2 penalty: faster than scikit-learn's lbfgs LogisticRegression
    with the same penalty, and steadier under load (benchmarks/embedding.py, figures in docs/benchmarks.md).
    Standardising with train statistics lets one penalty fit every backbone; ``max_iter`` bounds the time,
    and a probe stopped early is still a fair, comparable number. The first torch.optim optimizer of a
    process imports torch._dynamo (seconds, once per process); a worker that trained has paid that already.
    """
    train_x, train_y, test_x, test_y = _check_pair(train_x, train_y, test_x, test_y)
    fit = fit_probe(train_x, train_y, max_iter)
    with torch.no_grad():
        return fit.classes[(((test_x - fit.mean) / fit.std) @ fit.weight + fit.bias).argmax(1)]


class ProbeFit(NamedTuple):
    """A fitted linear probe: logits = ((x - mean) / std) @ weight + bias, column j meaning label classes[j]."""

    weight: Tensor  # (D, C)
    bias: Tensor  # (C,)
    mean: Tensor  # (D,)
    std: Tensor  # (D,)
    classes: Tensor  # (C,) the label values the columns stand for

    def as_linear(self, num_classes: int) -> tuple[Tensor, Tensor]:
        """(weight (num_classes, D), bias (num_classes,)) of an ``nn.Linear`` on the raw features that gives
        the same logits (standardisation folded in: W/σ and b − (W/σ)·μ). Classes the probe never saw get
        zero weights and a bias far below every fitted one, so they are never predicted."""
        scaled = self.weight.double() / self.std.double()[:, None]
        bias = self.bias.double() - self.mean.double() @ scaled
        weight = torch.zeros(num_classes, len(self.mean), dtype=torch.float64)
        full_bias = torch.full((num_classes,), float(bias.min()) - 1e4, dtype=torch.float64)
        weight[self.classes] = scaled.T
        full_bias[self.classes] = bias
        return weight.float(), full_bias.float()


def fit_probe(train_x, train_y, max_iter: int = PROBE_MAX_ITER) -> ProbeFit:
    """The linear probe of ``probe_predictions``, fitted: multinomial logistic regression by full-batch L-BFGS
    on features standardised with their own statistics, a fixed L2 penalty (PROBE_WEIGHT_DECAY). What a
    fine-tune's head starts from (LP-FT) and what every probe accuracy is."""
    train_x, train_y = _features(train_x, "train features"), _labels(train_y, "train labels")
    if len(train_x) != len(train_y):
        raise ConfigError(f"features and labels differ in length: {len(train_x)} vs {len(train_y)}")
    classes, ytr = torch.unique(train_y, return_inverse=True)
    if len(classes) < 2:
        raise ConfigError("evaluation needs at least 2 classes in the training split")
    mean, std = train_x.mean(0), train_x.std(0, unbiased=False)
    std = torch.where(std > 1e-6 * std.max().clamp(min=1e-12), std, torch.ones_like(std))  # constant dims
    xtr = (train_x - mean) / std
    weight = torch.zeros(xtr.shape[1], len(classes), requires_grad=True)
    bias = torch.zeros(len(classes), requires_grad=True)
    opt = torch.optim.LBFGS(
        [weight, bias], lr=1, max_iter=max_iter, history_size=10, line_search_fn="strong_wolfe", tolerance_grad=1e-6
    )

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xtr @ weight + bias, ytr) + 0.5 * PROBE_WEIGHT_DECAY * weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return ProbeFit(weight.detach(), bias.detach(), mean, std, classes)


def stage_probes(stage_features: dict, labels, train_idx, test_idx, known: tuple | None = None) -> list[dict]:
    """The linear probe of the final features (``linear_probe``: standardised, the same split) on each stage's
    pooled features (``extract_features(..., stages=True)``), in the backbone's order:
    ``[{"stage": name, "dim": D, "linear_probe": accuracy}, ...]``.

    ``known``: (features, their probe accuracy) already measured on this split, usually the final features;
    a stage whose features are exactly these (a conv backbone's last block) takes that accuracy instead of a
    second fit, so the chart's last stage and the run's linear probe are the same number.

    One intra-op thread (``_torch_threads``): the probe is thousands of small ops, and on a 2-core machine
    with a busy neighbour two threads made each probe several times slower (docs/benchmarks.md, "Which
    layer holds what"); with one thread the probes cost well under a second per run.
    """
    y = _labels(labels, "labels")
    rows = []
    with _torch_threads(1):
        for name, x in stage_features.items():
            x = _features(x, f"stage {name!r} features")
            if len(x) != len(y):
                raise ConfigError(f"stage {name!r} has {len(x)} feature rows for {len(y)} labels")
            if known is not None and known[0].shape == x.shape and torch.equal(known[0], x):
                accuracy = float(known[1])
            else:
                accuracy = linear_probe(x[train_idx], y[train_idx], x[test_idx], y[test_idx])
            rows.append({"stage": str(name), "dim": int(x.shape[1]), "linear_probe": accuracy})
    return rows


def confusion_matrix(truth, predicted, num_classes: int) -> list[list[int]]:
    """counts[true class][predicted class], as plain lists (JSON-ready)."""
    truth, predicted = torch.as_tensor(truth).long(), torch.as_tensor(predicted).long()
    flat = torch.bincount(truth * num_classes + predicted, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).tolist()


def knn_accuracy(
    train_x, train_y, test_x, test_y, k: int = KNN_K, temperature: float = KNN_TEMPERATURE, device="cpu"
) -> float:
    """Weighted kNN accuracy on cosine similarity, the InstDisc/DINO protocol.

    Each of the k most similar train features votes for its class with weight exp(sim / T); no training,
    no hyper-parameter search, so it measures the feature geometry itself. Test rows are processed in
    chunks so the similarity block stays ~16 MB whatever the sizes.
    """
    train_x, train_y, test_x, test_y = _check_pair(train_x, train_y, test_x, test_y)
    if k < 1 or temperature <= 0:
        raise ConfigError(f"kNN needs k >= 1 and temperature > 0, got k={k}, temperature={temperature}")
    device = torch.device(device)
    classes, y_all = torch.unique(torch.cat([train_y, test_y]), return_inverse=True)
    ytr, yte = y_all[: len(train_y)].to(device), y_all[len(train_y) :].to(device)
    xtr = F.normalize(train_x.to(device), dim=1)
    xte = F.normalize(test_x.to(device), dim=1)
    k = min(k, len(xtr))
    rows = max(1, _CHUNK_ELEMENTS // len(xtr))
    correct = 0
    for start in range(0, len(xte), rows):
        sim, idx = (xte[start : start + rows] @ xtr.T).topk(k, dim=1)
        weights = ((sim - 1) / temperature).exp()  # shifted by the max possible similarity: never overflows
        votes = torch.zeros(len(sim), len(classes), device=device).scatter_add_(1, ytr[idx], weights)
        correct += int((votes.argmax(1) == yte[start : start + rows]).sum())
    return correct / len(xte)


def nearest_neighbours(features, k: int = NEIGHBOURS_K, device="cpu") -> Tensor:
    """Indices (N, k) of each row's k most cosine-similar other rows, most similar first, never itself.

    Self is excluded by position, not by value, so exact duplicates still show up as neighbours.
    """
    x = _features(features, "features")
    if k < 0:
        raise ConfigError(f"k must be non-negative, got {k}")
    k = min(k, len(x) - 1)
    x = F.normalize(x.to(device), dim=1)
    rows = max(1, _CHUNK_ELEMENTS // len(x))
    out = []
    for start in range(0, len(x), rows):
        sim = x[start : start + rows] @ x.T
        sim.diagonal(offset=start).fill_(-math.inf)
        out.append(sim.topk(k, dim=1).indices.cpu())
    return torch.cat(out)


# ------------------------------------------------------------------------------------------------ 2-D maps
def embed_2d(features, method: str = "tsne", seed: int = 0, device="cpu") -> np.ndarray:
    """A 2-D map (N, 2) float32 of the features: t-SNE for the Results page, PCA as the instant fallback.

    The t-SNE is our own all-pairs implementation in torch (see ``_tsne``): at the sizes the app shows it is
    several times faster than scikit-learn's default TSNE with the same trustworthiness and class separation
    (benchmarks/embedding.py; figures and machine in docs/benchmarks.md). The same features and seed give the
    same map. Fewer than 5 points get the PCA map. Above TSNE_EXACT_MAX points scikit-learn's Barnes-Hut takes
    over: our iterations grow as N², and the dense P alone takes 400 MB at 10,000 points.
    """
    if method not in EMBED_METHODS:
        raise ConfigError(f"unknown embedding method {method!r}; choose from {', '.join(EMBED_METHODS)}")
    x = _features(features, "features")
    if method == "pca" or len(x) < 5:
        return _pca(x.double(), 2).float().numpy()
    if len(x) > TSNE_EXACT_MAX:
        return _sklearn_tsne(x, seed)
    device = torch.device(device)
    with _torch_threads(1 if device.type == "cpu" else torch.get_num_threads()):
        y = _tsne(x.to(device), seed)
    if not torch.isfinite(y).all():  # not seen in practice; a map must never break the Results page
        log.warning("t-SNE diverged; showing the PCA map instead")
        return _pca(x.double(), 2).float().numpy()
    return y.cpu().numpy()


@contextmanager
def _torch_threads(n: int):
    """Run the block with n intra-op threads, then restore the process setting.

    The t-SNE loop issues tens of thousands of small ops per second. With as many threads as cores every op is
    an OpenMP barrier, and one other busy process makes them wait on a descheduled thread: on a 2-core machine
    with one busy neighbour a map took several times longer when this was tuned, while one thread was
    unaffected. The setting is process-wide, so a torch job in another thread of the same process
    runs single-threaded meanwhile.
    """
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != before:
            torch.set_num_threads(before)


def _pca(x: Tensor, dims: int) -> Tensor:
    """Projection on the top principal axes, signs fixed (largest loading positive) so it is deterministic."""
    x = x - x.mean(0)
    out = torch.zeros(len(x), dims, dtype=x.dtype, device=x.device)
    if len(x) < 2:
        return out
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    vh = vh[:dims]
    rows = torch.arange(len(vh), device=x.device)
    signs = vh[rows, vh.abs().argmax(1)].sign()
    vh = vh * torch.where(signs == 0, 1.0, signs)[:, None]
    out[:, : len(vh)] = x @ vh.T
    return out


def _tsne(x: Tensor, seed: int, perplexity: float = TSNE_PERPLEXITY, pca_dims: int | None = TSNE_PCA_DIMS) -> Tensor:
    """t-SNE (van der Maaten 2008/2014) with an all-pairs gradient and a shortened optimisation schedule.

    P: Gaussian conditionals over the 3*perplexity nearest neighbours, bandwidths by bisection, symmetrised
    (as scikit-learn's Barnes-Hut), computed after projecting the features to their top ``pca_dims``
    principal axes, the usual t-SNE recipe: it drops isotropic noise dimensions, which here kept the map as
    good on real features and made it far better on noisy synthetic ones (10-NN accuracy in 2-D 0.80 ->
    0.91). ``pca_dims=None`` skips that and gives scikit-learn's P.

    The gradient covers all N² pairs each iteration, in row blocks of 2 MB that stay in cache. Attraction
    and repulsion share one matmul per block because the repulsion is normalised by the previous
    iteration's sum Z of the kernel: Z moves a median 0.3-0.9% per step (up to 25% in the few steps after
    exaggeration ends, when the map expands), the fixed points are the same, and the final KL was within
    0.3% of the exact-Z variant's.

    Schedule: PCA init scaled to std 1e-4; 100 iterations of early exaggeration 12 at momentum 0.5 and
    learning rate N/48, the stability limit N/(4*exaggeration) (scikit-learn's "auto" floors it at 50,
    which at a few hundred points overshoots into worse minima: KL 1.32-1.54 vs 1.29-1.32 at N=200, seen
    here); then 300 at momentum 0.8 and learning rate N/8, half the limit without exaggeration; with
    delta-bar-delta gains. Measured, this ends within ~1% of the KL divergence of scikit-learn's 250 + 750
    iterations (docs/benchmarks.md). Up to 1,000 points, where iterations are cheap, the usual 250 + 500.
    """
    n, device = len(x), x.device
    x = x.float()
    x = x - x.mean(0)
    projected = _pca(x.double(), max(2, min(pca_dims or 2, x.shape[1]))).float()
    perplexity = min(perplexity, (n - 1) / 3)
    p = _joint_probabilities(projected if pca_dims else x, perplexity, min(n - 1, int(3 * perplexity + 1)))

    y = projected[:, :2].contiguous()
    scale = y[:, 0].std()
    gen = torch.Generator().manual_seed(seed)
    jitter = torch.randn(n, 2, generator=gen).to(device) * 1e-6  # breaks ties between duplicates / rank-1 data
    y = (y / scale * 1e-4 if scale > 0 else torch.zeros_like(y)) + jitter

    # an iteration costs O(N²): up to 1,000 points the standard 250 + 500 schedule still takes < 1 s
    exaggeration, (n_exaggerated, n_iter) = 12.0, ((250, 750) if n <= 1000 else (100, 400))
    lr_exaggerated, lr_final = n / exaggeration / 4, max(n / 8, 50.0)
    update, gains = torch.zeros_like(y), torch.ones_like(y)
    rows = max(1, _TSNE_BLOCK_ELEMENTS // n)
    block, block2 = torch.empty(rows, n, device=device), torch.empty(rows, n, device=device)
    n_blocks = -(-n // rows)
    force = torch.empty(n_blocks, 3, rows, device=device)  # contiguous per block: mm writes in place
    ones = torch.ones(n, 1, device=device)
    z = torch.tensor(float(n * (n - 1)), device=device)  # sum of the kernel at the previous step (all 1 at start)
    for it in range(n_iter):
        early = it < n_exaggerated
        alpha = exaggeration if early else 1.0
        sq = y.square().sum(1)
        sq1 = sq + 1
        y1 = torch.cat([y, ones], 1).T.contiguous()  # (3, N): one matmul gives sum_j w_ij y_j and sum_j w_ij
        z_next, repulsion = torch.zeros((), device=device), -1 / float(alpha * z)
        for b, s in enumerate(range(0, n, rows)):
            e = min(n, s + rows)
            num = torch.addmm(sq[None, :].expand(e - s, n), y[s:e], y.T, alpha=-2, out=block[: e - s])
            num.add_(sq1[s:e, None]).reciprocal_()  # Student-t kernel 1 / (1 + |y_i - y_j|²)
            num.diagonal(offset=s).zero_()
            z_next += num.sum()
            w = torch.add(p[s:e], num, alpha=repulsion, out=block2[: e - s]).mul_(num)
            torch.mm(y1, w.T, out=force[b, :, : e - s])
        z = z_next
        f = force.permute(1, 0, 2).reshape(3, -1)[:, :n]
        grad = (4 * alpha) * (f[2, :, None] * y - f[:2].T)
        gains = torch.where(update * grad < 0, gains + 0.2, gains * 0.8).clamp_(min=0.01)
        update = (0.5 if early else 0.8) * update - (lr_exaggerated if early else lr_final) * gains * grad
        y = y + update
    return y - y.mean(0)


def _joint_probabilities(x: Tensor, perplexity: float, k: int) -> Tensor:
    """Dense symmetric P (N, N), float32, summing to 1, from each point's k nearest neighbours."""
    n = len(x)
    sq = x.square().sum(1)
    rows = max(1, _CHUNK_ELEMENTS // n)
    d2, nbr = [], []
    for s in range(0, n, rows):
        d = torch.addmm(sq[s : s + rows, None] + sq[None, :], x[s : s + rows], x.T, alpha=-2).clamp_(min=0)
        d.diagonal(offset=s).fill_(math.inf)
        dist, idx = d.topk(k, dim=1, largest=False)
        d2.append(dist)
        nbr.append(idx)
    cond = _conditional_p(torch.cat(d2).double(), perplexity).float()
    p = torch.zeros(n, n, device=x.device)
    p[torch.arange(n, device=x.device).repeat_interleave(k), torch.cat(nbr).reshape(-1)] = cond.reshape(-1)
    p += p.T.clone()
    return p / p.sum().clamp(min=1e-12)


def _conditional_p(d2: Tensor, perplexity: float, steps: int = 100, tol: float = 1e-5) -> Tensor:
    """Rows of exp(-beta_i d2) / sum, beta_i found by bisection so each row's entropy is log(perplexity)."""
    d2 = d2 - d2[:, :1]  # shift by the nearest distance: same P, no underflow for far-away points
    target = math.log(perplexity)
    beta = torch.ones(len(d2), 1, dtype=d2.dtype, device=d2.device)
    lo, hi = torch.zeros_like(beta), torch.full_like(beta, math.inf)
    for _ in range(steps):
        p = torch.exp(-d2 * beta)
        total = p.sum(1, keepdim=True)
        entropy = torch.log(total) + beta * (d2 * p).sum(1, keepdim=True) / total
        too_flat = entropy > target  # too many effective neighbours: sharpen
        if (entropy - target).abs().max() < tol:
            break
        lo, hi = torch.where(too_flat, beta, lo), torch.where(too_flat, hi, beta)
        beta = torch.where(too_flat, torch.where(hi.isinf(), beta * 2, (beta + hi) / 2), (beta + lo) / 2)
    return p / total


def _sklearn_tsne(x: Tensor, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    data = _pca(x.double(), min(50, x.shape[1])).float().numpy()
    return TSNE(n_components=2, init="pca", random_state=seed).fit_transform(data).astype(np.float32)


# ------------------------------------------------------------------------------------------------ together
def evaluate_features(train_x, train_y, test_x, test_y, *, embed: str = "tsne", seed: int = 0, device="cpu") -> dict:
    """Everything the Results page shows for one backbone, with the seconds each part took.

    Returns {"linear_probe": acc, "knn": acc, "embedding": (M, 2) float32 map of the test points,
    "neighbours": (M, NEIGHBOURS_K) indices into the test set, "timings": {part: seconds}}.
    """
    if embed not in EMBED_METHODS:  # before the probes run, not after
        raise ConfigError(f"unknown embedding method {embed!r}; choose from {', '.join(EMBED_METHODS)}")
    train_x, train_y, test_x, test_y = _check_pair(train_x, train_y, test_x, test_y)
    timings = {}

    def timed(name, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        timings[name] = time.perf_counter() - start
        return result

    predicted = timed("linear_probe", probe_predictions, train_x, train_y, test_x, test_y)
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    result = {
        "linear_probe": float((predicted == test_y).float().mean()),
        "confusion": confusion_matrix(test_y, predicted, num_classes),
        "knn": timed("knn", knn_accuracy, train_x, train_y, test_x, test_y, device=device),
        "embedding": timed("embedding", embed_2d, test_x, embed, seed, device=device),
        "neighbours": timed("neighbours", nearest_neighbours, test_x, device=device),
    }
    timings["total"] = sum(timings.values())
    result["timings"] = timings
    return result


# ------------------------------------------------------------------------------------------------ checks
def _features(x, name: str) -> Tensor:
    x = torch.as_tensor(x).detach()
    if x.ndim != 2 or len(x) == 0 or x.shape[1] == 0:
        raise ConfigError(f"{name} must be a non-empty 2-D array (N, D), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.float()
    if not torch.isfinite(x).all():
        raise ConfigError(f"{name} contain NaN or infinite values; the backbone may have diverged")
    return x.float().cpu()


def _labels(y, name: str) -> Tensor:
    y = torch.as_tensor(y).detach().cpu()
    if y.ndim != 1 or y.is_floating_point() or y.is_complex():
        raise ConfigError(f"{name} must be a 1-D integer array, got {y.dtype} shape {tuple(y.shape)}")
    if len(y) and int(y.min()) < 0:
        raise ConfigError(f"{name} has unlabelled entries (< 0); evaluation needs every example labelled")
    return y.long()


def _check_pair(train_x, train_y, test_x, test_y) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    train_x, test_x = _features(train_x, "train features"), _features(test_x, "test features")
    train_y, test_y = _labels(train_y, "train labels"), _labels(test_y, "test labels")
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ConfigError(
            f"features and labels differ in length: train {len(train_x)} vs {len(train_y)}, "
            f"test {len(test_x)} vs {len(test_y)}"
        )
    if train_x.shape[1] != test_x.shape[1]:
        raise ConfigError(f"train and test features differ in width: {train_x.shape[1]} vs {test_x.shape[1]}")
    if len(torch.unique(train_y)) < 2:
        raise ConfigError("evaluation needs at least 2 classes in the training split")
    return train_x, train_y, test_x, test_y
