"""Losses and metrics as pure functions of tensors (no module state), so they are easy to test."""

import torch
import torch.nn.functional as F
from torch import Tensor


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
