"""Batched augmentations: per-image randomness, and the colour maths they rest on."""

import torch
from seeded import gen

from sslcore.augment import (
    color_jitter,
    grayscale,
    hue_matrix,
    per_image_matmul,
    random_blur,
    random_resized_crop,
    saturation_matrix,
)


def test_full_crop_without_flip_is_the_identity():
    x = torch.rand(3, 3, 16, 16, generator=gen())
    crops, boxes = random_resized_crop(x, gen(), scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_p=0.0)
    assert torch.allclose(crops, x, atol=1e-5)
    assert torch.allclose(boxes, torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 3))


def test_flip_mirrors_left_right():
    x = torch.rand(2, 3, 16, 16, generator=gen())
    crops, _ = random_resized_crop(x, gen(), scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_p=1.0)
    assert torch.allclose(crops, x.flip(-1), atol=1e-5)


def test_crop_parameters_are_drawn_per_image():
    x = torch.rand(1, 3, 16, 16, generator=gen()).expand(8, -1, -1, -1)
    crops, boxes = random_resized_crop(x, gen(), scale=(0.2, 0.5))
    assert len({tuple(b.tolist()) for b in boxes}) == 8
    assert not torch.allclose(crops[0], crops[1])


def test_colour_matrices():
    x = torch.rand(4, 3, 8, 8, generator=gen())
    assert torch.allclose(per_image_matmul(hue_matrix(torch.zeros(4)), x), x, atol=1e-5)
    assert torch.allclose(per_image_matmul(hue_matrix(torch.ones(4)), x), x, atol=1e-5)  # a full turn
    assert torch.allclose(per_image_matmul(saturation_matrix(torch.zeros(4)), x), grayscale(x), atol=1e-5)
    assert torch.allclose(per_image_matmul(saturation_matrix(torch.ones(4)), x), x, atol=1e-6)
    grey = grayscale(x)
    assert torch.allclose(per_image_matmul(hue_matrix(torch.full((4,), 0.3)), grey), grey, atol=1e-4)


def test_colour_jitter_varies_per_image_and_stays_in_range():
    x = torch.full((6, 3, 8, 8), 0.5)
    x[:, 0] = 0.8
    out = color_jitter(x, gen(), strength=1.0, p=1.0)
    assert out.min() >= 0 and out.max() <= 1
    means = out.mean(dim=(2, 3))
    assert len({tuple(m.round(decimals=4).tolist()) for m in means}) == 6
    assert torch.equal(color_jitter(x, gen(), strength=0.0), x)


def test_blur_is_per_image_and_preserves_mean():
    x = torch.zeros(4, 3, 32, 32)
    x[..., 16, 16] = 1.0
    out = random_blur(x, gen(), p=1.0, sigma=(0.5, 2.0))
    peaks = out[:, 0, 16, 16]
    assert (peaks < 1).all() and len(set(peaks.tolist())) == 4  # different sigma per image
    assert torch.allclose(out.sum(dim=(2, 3)), x.sum(dim=(2, 3)), atol=1e-4)
    assert torch.equal(random_blur(x, gen(), p=0.0), x)
