"""sRGB <-> CIE Lab (D65) in torch, for colorization: L is the input, ab the target."""

import torch
from torch import Tensor

from sslcore.augment import per_image_matmul

_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE = torch.tensor([0.950456, 1.0, 1.088754])
_EPS = 0.008856  # (6/29)^3
AB_RANGE = 110.0  # |a|, |b| of sRGB colours stay within about this


def _srgb_to_linear(x: Tensor) -> Tensor:
    return torch.where(x > 0.04045, ((x + 0.055) / 1.055).clamp(min=0) ** 2.4, x / 12.92)


def _linear_to_srgb(x: Tensor) -> Tensor:
    return torch.where(x > 0.0031308, 1.055 * x.clamp(min=1e-8) ** (1 / 2.4) - 0.055, 12.92 * x)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) sRGB in [0, 1] -> Lab with L in [0, 100] and a, b roughly in [-110, 110]."""
    xyz = per_image_matmul(_RGB_TO_XYZ / _WHITE.view(3, 1), _srgb_to_linear(rgb))
    f = torch.where(xyz > _EPS, xyz.clamp(min=1e-8) ** (1 / 3), 7.787 * xyz + 16 / 116)
    fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
    lightness = torch.where(xyz[:, 1] > _EPS, 116 * fy - 16, 903.3 * xyz[:, 1])
    return torch.stack([lightness, 500 * (fx - fy), 200 * (fy - fz)], dim=1)


def lab_to_rgb(lab: Tensor) -> Tensor:
    """Inverse of ``rgb_to_lab``; out-of-gamut colours are clipped to [0, 1]."""
    lightness, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    fy = (lightness + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim=1)
    xyz = torch.where(f > 6 / 29, f**3, (f - 16 / 116) / 7.787)
    xyz = xyz * _WHITE.to(lab).view(1, 3, 1, 1)
    rgb = per_image_matmul(torch.linalg.inv(_RGB_TO_XYZ), xyz)
    return _linear_to_srgb(rgb.clamp(0, 1)).clamp(0, 1)


def lightness_rgb(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) sRGB in [0, 1] -> its lightness L/100 in [0, 1] on all three channels (grey RGB):
    what colorization feeds its network, and the evaluation view of a colorization run."""
    return grey_from_lightness(rgb_to_lab(rgb)[:, :1])


def grey_from_lightness(lightness: Tensor) -> Tensor:
    """(B, 1, H, W) Lab lightness in [0, 100] -> (B, 3, H, W) grey RGB L/100: colorization's network input."""
    return (lightness / 100).clamp(0, 1).expand(-1, 3, -1, -1).contiguous()
