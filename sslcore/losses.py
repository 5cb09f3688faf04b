"""Every loss and metric formula, as pure functions of tensors (no module state), so they are easy to test.

The rule: a task's ``loss`` only picks its tensors out of the batch (the labelled positions, the mask, a
resize to the target's size) and calls one of these; no task module computes a loss or a metric inline.
Each ``*_loss`` returns ``(loss, metrics)``: 0-dim tensors on the device, which the training loop reads
only when it reports progress.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


# ------------------------------------------------------------------------------------ pretext losses
def classification_loss(logits: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Cross-entropy plus the accuracy a person reads: the loss of every 'which one?' pretext task.

    ``logits`` are (N, C) or per pixel (N, C, H, W) with ``targets`` (N) or (N, H, W). No targets at all
    (a batch of short sentences can draw no position to predict) is a zero loss that keeps the graph.
    """
    if targets.numel() == 0:
        return logits.sum() * 0, {"accuracy": torch.zeros(())}
    loss = F.cross_entropy(logits.float(), targets)
    return loss, {"accuracy": (logits.argmax(1) == targets).float().mean()}


def weighted_classification_loss(logits: Tensor, targets: Tensor, weights: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Cross-entropy with a weight per target class (``weights`` (C,)), averaged over examples or pixels, plus
    the plain accuracy: colorization's class-rebalanced loss (Zhang et al. 2016, eq. 2: the sum over pixels of
    v(Z)·CE). Weights with mean 1 under the class prior (``rebalancing_weights``) keep the loss's scale."""
    if targets.numel() == 0:
        return logits.sum() * 0, {"accuracy": torch.zeros(())}
    ce = F.cross_entropy(logits.float(), targets, reduction="none")
    loss = (weights.to(ce)[targets] * ce).mean()
    return loss, {"accuracy": (logits.argmax(1) == targets).float().mean()}


def rebalancing_weights(prior: Tensor, mix: float = 0.5, support: Tensor | None = None) -> Tensor:
    """Zhang et al. 2016's class rebalancing: w ∝ ((1 − λ)·p̃ + λ/Q)^−1 with λ = ``mix``, p̃ = ``prior`` (the
    smoothed class distribution, normalised here) and Q the classes of ``support`` (the paper's in-gamut bins;
    default: those p̃ gives any mass), normalised so that E_p̃[w] = Σ p̃·w = 1. A uniform prior gives all ones;
    rare classes weigh more. Classes outside the support (no colour lands there) get weight 0."""
    support = prior > 0 if support is None else support.to(prior.device).bool()
    p = torch.where(support, prior.double().clamp(min=0), 0.0)
    p = p / p.sum()
    q = int(support.sum())
    w = torch.where(support, 1.0 / ((1 - mix) * p + mix / q), 0.0)
    return (w / (p * w).sum()).float()


def binary_classification_loss(logits: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Binary cross-entropy on one logit per example, with *balanced* accuracy (the mean recall of the two
    classes), since one class may be rare (ELECTRA: most tokens are originals)."""
    targets = targets.float()
    loss = F.binary_cross_entropy_with_logits(logits.float(), targets)
    guess = logits.detach() > 0
    recalls = [(guess[targets == c] == bool(c)).float().mean() for c in (0, 1) if (targets == c).any()]
    return loss, {"accuracy": torch.stack(recalls).mean() if recalls else torch.zeros(())}


def regression_loss(pred: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Mean squared error, and R² (how much of the targets' spread the prediction explains)."""
    pred = pred.float()
    return F.mse_loss(pred, target), {"r2": r_squared(pred.detach(), target)}


def binned_regression_loss(
    pred: Tensor, target: Tensor, to_bins: Callable[[Tensor], Tensor]
) -> tuple[Tensor, dict[str, Tensor]]:
    """Mean squared error, and as accuracy the share of values whose bin (``to_bins``) is the target's bin:
    a regression read on the same scale as its classification variant (colorization's ab values)."""
    loss = F.mse_loss(pred, target)
    return loss, {"accuracy": (to_bins(pred.detach()) == to_bins(target)).float().mean()}


def reconstruction_loss(
    pred: Tensor, target: Tensor, mask: Tensor | None = None, pixels: tuple[Tensor, Tensor] | None = None
) -> tuple[Tensor, dict[str, Tensor]]:
    """MSE over the pixels that had to be reconstructed (all of them when ``mask`` is None), plus PSNR.

    ``pixels``: (prediction, truth) in [0, 1] to measure the PSNR on, when the loss's target is not in pixel
    space (MAE's normalised patches); by default the PSNR is the loss's own."""
    if pred.shape[-2:] != target.shape[-2:]:  # decoders work in powers of two; any image size is fine
        pred = F.interpolate(pred.float(), size=target.shape[-2:], mode="bilinear", align_corners=False)
    mask = torch.ones_like(target[:, :1], dtype=torch.bool) if mask is None else mask
    loss = masked_mse(pred, target, mask)
    shown = loss.detach() if pixels is None else masked_mse(pixels[0].detach(), pixels[1], mask)
    return loss, {"psnr": psnr(shown)}


def nt_xent(z: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """SimCLR's normalised-temperature cross-entropy for 2B embeddings where row i pairs with row i±B.

    Returns the loss and the contrastive accuracy: how often a view's nearest other view is its partner.
    """
    n = len(z) // 2
    z = F.normalize(z.float(), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    partner = torch.arange(2 * n, device=z.device).roll(n)  # made on the device: no copy per step
    loss = F.cross_entropy(sim, partner)
    acc = (sim.argmax(1) == partner).float().mean()
    return loss, acc


def simsiam_loss(p: Tensor, z: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """SimSiam's symmetric loss for 2B views (row i pairs with row i±B): each view's prediction against the
    other view's projection, plus the collapse score a person watches."""
    n = len(p) // 2
    loss = 0.5 * (negative_cosine(p[:n], z[n:]) + negative_cosine(p[n:], z[:n]))
    return loss, {"collapse": collapse_score(z)}


def negative_sampling_loss(true: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """word2vec's negative sampling: (P,) scores of true pairs and (P, k) scores of random pairs.

    The metric is the share of true pairs that beat all of their negatives. No pairs (sentences of one
    word) is a zero loss that keeps the graph.
    """
    if len(true) == 0:
        return true.sum() * 0, {"accuracy": torch.zeros(())}
    loss = -F.logsigmoid(true.float()).mean() - F.logsigmoid(-fake.float()).sum(1).mean()
    return loss, {"accuracy": (true[:, None] > fake).all(1).float().mean()}


# -------------------------------------------------------------------------------- their ingredients
def negative_cosine(p: Tensor, z: Tensor) -> Tensor:
    """SimSiam's D(p, z) with the stop-gradient on z that keeps it from collapsing to a constant."""
    return -F.cosine_similarity(p.float(), z.detach().float(), dim=1).mean()


def collapse_score(z: Tensor) -> Tensor:
    """Std of the L2-normalised outputs across the batch, times sqrt(dim): ~1 healthy, 0 collapsed."""
    z = F.normalize(z.detach().float(), dim=1)
    return z.std(0).mean() * z.shape[1] ** 0.5


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the pixels where ``mask`` (broadcastable to pred) is true."""
    mask = mask.expand_as(pred).float()
    return ((pred.float() - target.float()) ** 2 * mask).sum() / mask.sum().clamp(min=1)


def psnr(mse: Tensor | float) -> Tensor:
    """Peak signal-to-noise ratio in dB for images in [0, 1]: a reconstruction score people can read."""
    return -10 * torch.log10(torch.as_tensor(mse, dtype=torch.float32).clamp(min=1e-10))


def r_squared(pred: Tensor, target: Tensor) -> Tensor:
    """Coefficient of determination averaged over the outputs: 0 = predicting the mean, 1 = perfect."""
    residual = ((pred - target) ** 2).sum(0)
    total = ((target - target.mean(0)) ** 2).sum(0).clamp(min=1e-8)
    return (1 - residual / total).mean()
