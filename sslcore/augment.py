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


def to_device(t: Tensor, device) -> Tensor:
    """CPU-drawn randomness (or a small table) onto the device without waiting for it.

    On CUDA an ordinary copy from pageable memory synchronises the stream; from pinned memory with
    ``non_blocking`` it is only queued, so making a batch never stalls the GPU's queue of work.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def uniform(gen: torch.Generator, shape, low: float, high: float, device) -> Tensor:
    """U(low, high) drawn on the CPU generator, then moved: reproducible across devices."""
    return to_device(torch.rand(shape, generator=gen) * (high - low) + low, device)


def bernoulli(gen: torch.Generator, n: int, p: float, device) -> Tensor:
    return to_device(torch.rand(n, generator=gen) < p, device)


def randint(gen: torch.Generator, high: int, shape, device) -> Tensor:
    return to_device(torch.randint(high, shape, generator=gen), device)


def rot90_each(x: Tensor, quarter_turns: Tensor) -> Tensor:
    """Each image turned counter-clockwise by its own number of quarter turns: exact (rot90 per group, no
    resampling), so no interpolation blur gives the turn away."""
    turns = quarter_turns.remainder(4)
    out = x.clone()
    for k in range(1, 4):
        chosen = (turns == k).nonzero().squeeze(1)
        out.index_copy_(0, chosen, torch.rot90(x.index_select(0, chosen), k, dims=(2, 3)))
    return out


def luminance(x: Tensor) -> Tensor:
    """(B, 1, H, W) luminance (ITU-R 601) of (B, 3, H, W) images."""
    return (x[:, 0:1] * LUMA[0]).add_(x[:, 1:2], alpha=LUMA[1]).add_(x[:, 2:3], alpha=LUMA[2])


def grayscale(x: Tensor) -> Tensor:
    """Luminance repeated to 3 channels, so a grey image still fits an RGB backbone."""
    return luminance(x).expand_as(x)


def per_image_matmul(matrix: Tensor, x: Tensor) -> Tensor:
    """Apply a (3, 3) or (B, 3, 3) colour matrix to every pixel of (B, 3, H, W) images with one matmul."""
    return torch.matmul(matrix.to(x), x.flatten(2)).view_as(x)


def crop_squares(x: Tensor, corners: Tensor, size: int) -> Tensor:
    """Cut size×size squares at per-image (row, col) ``corners`` (B, T, 2): one gather for the batch.

    Returns (B, T, C, size, size). Each image can have its own crop positions (jigsaw tiles with jitter,
    relative-position patches) without a Python loop over images.
    """
    ar = torch.arange(size, device=x.device)
    rows = corners[..., 0:1] + ar  # (B, T, size)
    cols = corners[..., 1:2] + ar
    bi = torch.arange(len(x), device=x.device).view(-1, 1, 1, 1)
    squares = x.permute(0, 2, 3, 1)[bi, rows[..., :, None], cols[..., None, :]]  # (B, T, size, size, C)
    return squares.permute(0, 1, 4, 2, 3).contiguous()


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
    """SimCLR's colour distortion: brightness, contrast, saturation (±0.8·s) and hue (±0.2·s), per image.

    Images that skip the jitter (probability 1 - p) get identity factors, so the whole batch takes one
    path. Saturation and hue are one 3×3 matrix per image, applied with a single batched matmul.
    """
    if strength <= 0 or p <= 0:
        return x
    b, device = len(x), x.device
    on = bernoulli(gen, b, p, device)
    spread = 0.8 * strength

    def factor():
        f = uniform(gen, b, max(0.0, 1 - spread), 1 + spread, device)
        return torch.where(on, f, torch.ones_like(f))

    brightness, contrast, saturation = factor(), factor(), factor()
    hue = torch.where(on, uniform(gen, b, -0.2 * strength, 0.2 * strength, device), torch.zeros(b, device=device))
    out = (x * brightness.view(b, 1, 1, 1)).clamp_(0, 1)
    mean = luminance(out).mean(dim=(1, 2, 3), keepdim=True)
    out = out.sub_(mean).mul_(contrast.view(b, 1, 1, 1)).add_(mean).clamp_(0, 1)
    return per_image_matmul(hue_matrix(hue) @ saturation_matrix(saturation), out).clamp_(0, 1)


def saturation_matrix(factor: Tensor) -> Tensor:
    """(B, 3, 3) matrices that blend each pixel with its grey value: s·x + (1 - s)·luma(x)."""
    luma = torch.tensor(LUMA, device=factor.device).view(1, 1, 3).expand(len(factor), 3, 3)
    eye = torch.eye(3, device=factor.device).expand(len(factor), 3, 3)
    s = factor.view(-1, 1, 1)
    return s * eye + (1 - s) * luma


_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def hue_matrix(turns: Tensor) -> Tensor:
    """(B, 3, 3) matrices that shift hue by ``turns`` of a full circle: a rotation of YIQ's chroma plane."""
    angle = turns * 2 * math.pi
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.zeros(len(turns), 3, 3, device=turns.device)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    to_yiq = _RGB_TO_YIQ.to(turns.device)
    return torch.linalg.inv(to_yiq) @ rot @ to_yiq


def random_grayscale(x: Tensor, gen: torch.Generator, p: float) -> Tensor:
    on = bernoulli(gen, len(x), p, x.device).view(-1, 1, 1, 1)
    return torch.where(on, grayscale(x), x)


def random_blur(x: Tensor, gen: torch.Generator, p: float, sigma=(0.1, 2.0)) -> Tensor:
    """Gaussian blur with a per-image sigma drawn from ``sigma``, applied with probability ``p``."""
    if p <= 0:
        return x
    s = uniform(gen, len(x), sigma[0], sigma[1], x.device)
    on = bernoulli(gen, len(x), p, x.device).view(-1, 1, 1, 1)
    return torch.where(on, gaussian_blur(x, s), x)


def gaussian_blur(x: Tensor, sigma: Tensor) -> Tensor:
    """Blur each image with its own ``sigma`` (B,) in pixels: separable grouped convolutions, one kernel per image."""
    b, c, h, w = x.shape
    device = x.device
    size = max(3, (min(h, w) // 10) | 1)
    s = sigma.to(device=device, dtype=x.dtype).clamp(min=1e-3).view(b, 1)
    offsets = torch.arange(size, device=device, dtype=x.dtype) - size // 2
    kernel = torch.exp(-(offsets.view(1, -1) ** 2) / (2 * s**2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*C, size)
    flat = x.reshape(1, b * c, h, w)
    pad = size // 2
    flat = F.conv2d(F.pad(flat, (pad, pad, 0, 0), mode="reflect"), kernel.view(b * c, 1, 1, size), groups=b * c)
    flat = F.conv2d(F.pad(flat, (0, 0, pad, pad), mode="reflect"), kernel.view(b * c, 1, size, 1), groups=b * c)
    return flat.view(b, c, h, w)
