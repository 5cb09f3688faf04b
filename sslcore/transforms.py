"""The transformation library a custom pretext task is built from: each one a batched tensor op with an amount per image.

Every transformation takes float images (B, 3, H, W) in [0, 1] and an amount per image (B,), and returns
the transformed batch on the same device. The amount has a meaning a person can read (degrees, turns of the
hue circle, a blur sigma in pixels...) and hard bounds; a task picks a range inside them and draws amounts
from it, per image, with the CPU generator (see ``sslcore.augment``), so a seed gives the same batch anywhere.
Discrete transformations (flips, channel orders) take whole-number amounts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import permutations

import torch
import torch.nn.functional as F
from torch import Tensor

from sslcore.augment import (
    gaussian_blur,
    grayscale,
    hue_matrix,
    per_image_matmul,
    rot90_each,
    saturation_matrix,
    uniform,
)

CHANNEL_ORDERS = list(permutations(range(3)))  # index 0 is RGB itself


@dataclass(frozen=True)
class Transform:
    """One transformation: its bounds, a sensible default range, and how to apply an amount per image."""

    name: str
    title: str
    unit: str  # how an amount reads: "°", "× brightness", "turns"...
    low: float  # hard bounds of the amount
    high: float
    default: tuple[float, float]  # the range a new task starts with
    apply: Callable[[Tensor, Tensor, torch.Generator], Tensor]
    discrete: bool = False  # whole-number amounts only (flip yes/no, a channel order)
    identity: float = 0.0  # the amount that leaves an image unchanged
    which: tuple[float, float] | None = None  # 'which' starts here when ``default`` spans the identity

    def default_range(self, target: str) -> tuple[float, float]:
        """The range a new design starts with. For 'which' it leaves the identity out: an amount at or near it
        makes an example that looks like 'nothing applied' yet carries this transformation's class."""
        if target != "which":
            return self.default
        if self.discrete:
            return (max(self.default[0], self.identity + 1), self.default[1])
        return self.which or self.default

    def draw(self, gen: torch.Generator, n: int, low: float, high: float, device) -> Tensor:
        """n amounts, uniform in [low, high] (whole numbers for a discrete transformation)."""
        if self.discrete:
            return torch.randint(int(low), int(high) + 1, (n,), generator=gen).float().to(device)
        return uniform(gen, n, low, high, device)

    def describe(self, amount: float) -> str:
        """An amount in words, e.g. "rotate 35°", "hue shift +0.20 turns", "horizontal flip"."""
        if self.name in ("hflip", "vflip"):
            return self.title.lower() if amount >= 0.5 else f"no {self.title.lower()}"
        if self.name == "channel_shuffle":
            return "channels " + "".join("RGB"[c] for c in CHANNEL_ORDERS[int(amount)])
        return (
            f"{self.title.lower()} {amount:+.2f}{self.unit}"
            if self.low < 0
            else f"{self.title.lower()} {amount:.2f}{self.unit}"
        )


def _affine(x: Tensor, theta: Tensor) -> Tensor:
    """Warp every image by its own (B, 2, 3) affine matrix (output -> input coordinates), borders repeated."""
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _eye(amount: Tensor) -> Tensor:
    theta = torch.zeros(len(amount), 2, 3, device=amount.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    return theta


def _rotate(x: Tensor, degrees: Tensor, gen) -> Tensor:
    turns = torch.round(degrees / 90)
    exact = (degrees - 90 * turns).abs() < 1e-6
    if bool(exact.all()):  # multiples of 90°: rot90 is exact (no interpolation blur to detect)
        return rot90_each(x, turns)
    rad = degrees * math.pi / 180
    theta = torch.zeros(len(x), 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(rad), -torch.sin(rad)
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(rad), torch.cos(rad)
    return _affine(x, theta)


def _shift(axis: int) -> Callable:
    def shift(x: Tensor, fraction: Tensor, gen) -> Tensor:
        theta = _eye(fraction)
        theta[:, axis, 2] = -2 * fraction  # grid coordinates span 2 units per image side
        return _affine(x, theta)

    return shift


def _zoom(x: Tensor, factor: Tensor, gen) -> Tensor:
    theta = _eye(factor)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / factor
    return _affine(x, theta)


def _flip(dim: int) -> Callable:
    def flip(x: Tensor, amount: Tensor, gen) -> Tensor:
        return torch.where((amount >= 0.5).view(-1, 1, 1, 1), x.flip(dim), x)

    return flip


def _hue(x: Tensor, turns: Tensor, gen) -> Tensor:
    return per_image_matmul(hue_matrix(turns), x).clamp_(0, 1)


def _saturation(x: Tensor, factor: Tensor, gen) -> Tensor:
    return per_image_matmul(saturation_matrix(factor), x).clamp_(0, 1)


def _brightness(x: Tensor, factor: Tensor, gen) -> Tensor:
    return (x * factor.view(-1, 1, 1, 1)).clamp_(0, 1)


def _grayscale(x: Tensor, amount: Tensor, gen) -> Tensor:
    a = amount.view(-1, 1, 1, 1)
    return x * (1 - a) + grayscale(x) * a


def _invert(x: Tensor, amount: Tensor, gen) -> Tensor:
    a = amount.view(-1, 1, 1, 1)
    return x * (1 - a) + (1 - x) * a


def _blur(x: Tensor, sigma: Tensor, gen) -> Tensor:
    return torch.where((sigma > 0).view(-1, 1, 1, 1), gaussian_blur(x, sigma), x)


def _noise(x: Tensor, std: Tensor, gen) -> Tensor:
    noise = torch.randn(x.shape, generator=gen).to(x)
    return (x + noise * std.view(-1, 1, 1, 1)).clamp_(0, 1)


def _cutout(x: Tensor, side: Tensor, gen) -> Tensor:
    """Grey out a square of ``side`` (fraction of the image side) at a random place in each image."""
    b, _, h, w = x.shape
    cy, cx = uniform(gen, b, 0, 1, x.device), uniform(gen, b, 0, 1, x.device)
    ys = (torch.arange(h, device=x.device) + 0.5) / h
    xs = (torch.arange(w, device=x.device) + 0.5) / w
    half = side.view(b, 1) / 2
    inside_y = ((ys.view(1, -1) - cy.view(b, 1)).abs() < half).view(b, 1, h, 1)
    inside_x = ((xs.view(1, -1) - cx.view(b, 1)).abs() < half).view(b, 1, 1, w)
    return torch.where(inside_y & inside_x, torch.full_like(x, 0.5), x)


def _channel_shuffle(x: Tensor, order: Tensor, gen) -> Tensor:
    index = torch.tensor(CHANNEL_ORDERS, device=x.device)[order.long()]  # (B, 3)
    return torch.gather(x, 1, index.view(-1, 3, 1, 1).expand_as(x))


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("hflip", "Horizontal flip", "", 0, 1, (0, 1), _flip(3), discrete=True),
        Transform("vflip", "Vertical flip", "", 0, 1, (0, 1), _flip(2), discrete=True),
        Transform("rotate", "Rotate", "°", -360, 360, (-90, 90), _rotate, which=(30, 90)),
        Transform("hue", "Hue shift", " turns", -0.5, 0.5, (-0.5, 0.5), _hue, which=(0.1, 0.5)),
        Transform("saturation", "Saturation", "×", 0, 3, (0, 2), _saturation, identity=1.0, which=(1.5, 2)),
        Transform("brightness", "Brightness", "×", 0.1, 3, (0.5, 1.5), _brightness, identity=1.0, which=(1.2, 1.5)),
        Transform("grayscale", "Grayscale", " blend", 0, 1, (1, 1), _grayscale),
        Transform("invert", "Invert", " blend", 0, 1, (1, 1), _invert),
        Transform("blur", "Blur", " px sigma", 0, 4, (0.5, 2), _blur),
        Transform("noise", "Noise", " std", 0, 0.5, (0.05, 0.2), _noise),
        Transform("shift_x", "Shift right", " of the width", -0.5, 0.5, (-0.25, 0.25), _shift(0), which=(0.1, 0.25)),
        Transform("shift_y", "Shift down", " of the height", -0.5, 0.5, (-0.25, 0.25), _shift(1), which=(0.1, 0.25)),
        Transform("zoom", "Zoom", "×", 0.5, 3, (1, 1.5), _zoom, identity=1.0, which=(1.2, 1.5)),
        Transform("cutout", "Cut-out", " of the side", 0, 0.9, (0.25, 0.5), _cutout),
        Transform("channel_shuffle", "Channel order", "", 0, 5, (1, 5), _channel_shuffle, discrete=True),
    )
}
