"""Batched, per-image random augmentations as tensor ops on the images' device.

Every random parameter is drawn *per image* (torchvision v2 transforms on a batch tensor draw one set
for the whole batch, which would make all views in a batch alike). Random numbers come from a CPU
``torch.Generator`` and are moved to the device, so a seed gives the same batch on CPU and GPU.
All functions take and return float images in [0, 1], shape (B, 3, H, W).
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LUMA = (0.299, 0.587, 0.114)


def uniform(gen: torch.Generator, shape, low: float, high: float, device) -> Tensor:
    """U(low, high) drawn on the CPU generator, then moved: reproducible across devices."""
    return (torch.rand(shape, generator=gen) * (high - low) + low).to(device)


def bernoulli(gen: torch.Generator, n: int, p: float, device) -> Tensor:
    return (torch.rand(n, generator=gen) < p).to(device)


def randint(gen: torch.Generator, high: int, shape, device) -> Tensor:
    return torch.randint(high, shape, generator=gen).to(device)


def grayscale(x: Tensor) -> Tensor:
    """Luminance (ITU-R 601), repeated to 3 channels so it still fits an RGB backbone."""
    weights = x.new_tensor(LUMA).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True).expand_as(x).contiguous()


def random_resized_crop(
    x: Tensor, gen: torch.Generator, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3), flip_p: float = 0.0
) -> tuple[Tensor, Tensor]:
    """Crop a random area fraction and aspect ratio per image, resize back to (H, W), maybe mirror.

    Returns the crops and their boxes as (B, 4) fractions (x0, y0, x1, y1) of the source image, so a
    preview can outline where each view came from. One ``grid_sample`` for the whole batch.
    """
    b, device = len(x), x.device
    area = uniform(gen, b, scale[0], scale[1], device)
    log_ratio = uniform(gen, b, math.log(ratio[0]), math.log(ratio[1]), device)
    aspect = torch.exp(log_ratio)
    w = torch.sqrt(area * aspect).clamp(max=1.0)
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = w / 2 + uniform(gen, b, 0, 1, device) * (1 - w)
    cy = h / 2 + uniform(gen, b, 0, 1, device) * (1 - h)
    sign = 1 - 2 * bernoulli(gen, b, flip_p, device).float()
    theta = torch.zeros(b, 2, 3, device=device)
    theta[:, 0, 0] = w * sign
    theta[:, 0, 2] = 2 * cx - 1
    theta[:, 1, 1] = h
    theta[:, 1, 2] = 2 * cy - 1
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    crops = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)
    return crops, boxes


def color_jitter(x: Tensor, gen: torch.Generator, strength: float, p: float = 0.8) -> Tensor:
    """SimCLR's colour distortion: brightness, contrast, saturation (±0.8·s) and hue (±0.2·s), per image."""
    if strength <= 0 or p <= 0:
        return x
    b, device = len(x), x.device
    on = bernoulli(gen, b, p, device).view(b, 1, 1, 1)
    spread = 0.8 * strength

    def factor():
        return uniform(gen, b, max(0.0, 1 - spread), 1 + spread, device).view(b, 1, 1, 1)

    brightness, contrast, saturation = factor(), factor(), factor()
    hue = uniform(gen, b, -0.2 * strength, 0.2 * strength, device)
    out = (x * brightness).clamp(0, 1)
    mean = grayscale(out).mean(dim=(1, 2, 3), keepdim=True)
    out = ((out - mean) * contrast + mean).clamp(0, 1)
    gray = grayscale(out)
    out = ((out - gray) * saturation + gray).clamp(0, 1)
    out = rotate_hue(out, hue)
    return torch.where(on, out, x)


_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def rotate_hue(x: Tensor, turns: Tensor) -> Tensor:
    """Shift hue by ``turns`` (fractions of a full turn, per image) as a rotation of the IQ plane."""
    to_yiq = _RGB_TO_YIQ.to(x)
    angle = turns * 2 * math.pi
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.zeros(len(x), 3, 3, device=x.device, dtype=x.dtype)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    matrix = torch.linalg.inv(to_yiq) @ rot @ to_yiq  # (B, 3, 3)
    return torch.einsum("bij,bjhw->bihw", matrix, x).clamp(0, 1)


def random_grayscale(x: Tensor, gen: torch.Generator, p: float) -> Tensor:
    on = bernoulli(gen, len(x), p, x.device).view(-1, 1, 1, 1)
    return torch.where(on, grayscale(x), x)


def random_blur(x: Tensor, gen: torch.Generator, p: float, sigma=(0.1, 2.0)) -> Tensor:
    """Gaussian blur with a per-image sigma: separable grouped convolutions, one kernel per image."""
    if p <= 0:
        return x
    b, c, h, w = x.shape
    device = x.device
    size = max(3, (min(h, w) // 10) | 1)
    s = uniform(gen, b, sigma[0], sigma[1], device).view(b, 1)
    offsets = torch.arange(size, device=device, dtype=x.dtype) - size // 2
    kernel = torch.exp(-(offsets.view(1, -1) ** 2) / (2 * s**2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*C, size)
    flat = x.reshape(1, b * c, h, w)
    pad = size // 2
    flat = F.conv2d(F.pad(flat, (pad, pad, 0, 0), mode="reflect"), kernel.view(b * c, 1, 1, size), groups=b * c)
    flat = F.conv2d(F.pad(flat, (0, 0, pad, pad), mode="reflect"), kernel.view(b * c, 1, size, 1), groups=b * c)
    on = bernoulli(gen, b, p, device).view(b, 1, 1, 1)
    return torch.where(on, flat.view(b, c, h, w), x)
