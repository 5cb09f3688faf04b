"""Real images that ship with scikit-learn, so the app has something besides shapes with no internet.

- digits: 1,797 labelled handwritten digits (8×8, 0..16 ink), upscaled to white-on-black RGB;
- photos: the two bundled sample photos (a temple in China, a flower) as square crops, for previews.
"""

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from sslcore.data.dataset import ImageDataset
from sslcore.errors import ConfigError

PHOTO_NAMES = ("china", "flower")


def load_digits(size: int = 32) -> ImageDataset:
    """scikit-learn's handwritten digits as ``size``×``size`` RGB: white digit on black, labels 0..9."""
    from sklearn.datasets import load_digits as sk_load_digits  # sklearn is slow to import

    if size < 1:
        raise ConfigError(f"digits: size must be positive, got {size}")
    digits = sk_load_digits()
    ink = torch.from_numpy(digits.images).float()[:, None] / 16.0  # (N, 1, 8, 8) in 0..1
    if size != 8:
        ink = F.interpolate(ink, size=(size, size), mode="bilinear", align_corners=False, antialias=size < 8)
    images = (ink.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = torch.from_numpy(digits.target).to(torch.int64)
    names = [f"digit #{i} ({k})" for i, k in enumerate(labels.tolist())]
    return ImageDataset("digits", images, labels, [str(d) for d in range(10)], names)


def load_photos(size: int = 64, n: int = 8) -> ImageDataset:
    """``n`` square crops of the bundled photos, labelled by source photo (``class_names`` china, flower).

    Crop 0 and 1 are the centre squares of each photo; the rest are smaller crops at fixed pseudo-random
    places, alternating between the photos. Deterministic, so previews look the same on every run.
    """
    from sklearn.datasets import load_sample_images

    if n < 1 or size < 1:
        raise ConfigError(f"photos: n and size must be positive, got n={n}, size={size}")
    photos = [Image.fromarray(img) for img in load_sample_images().images]
    rng = np.random.default_rng(0)
    images, labels, names = [], [], []
    for i in range(n):
        source = i % len(photos)
        photo = photos[source]
        width, height = photo.size
        if i < len(photos):
            side = min(width, height)
            left, top, what = (width - side) // 2, (height - side) // 2, "centre"
        else:
            side = int(min(width, height) * rng.uniform(0.3, 0.8))
            left, top = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
            what = f"crop {i // len(photos)}"
        box = (left, top, left + side, top + side)
        crop = photo.resize((size, size), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
        images.append(torch.from_numpy(np.asarray(crop).copy()).permute(2, 0, 1))
        labels.append(source)
        names.append(f"{PHOTO_NAMES[source]} {what}")
    return ImageDataset("photos", torch.stack(images), torch.tensor(labels), list(PHOTO_NAMES), names)
