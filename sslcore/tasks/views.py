"""Two augmented views per image: the shared input pipeline of SimCLR and SimSiam."""

from dataclasses import dataclass

import torch
from torch import Tensor

from sslcore.augment import color_jitter, random_blur, random_grayscale, random_resized_crop
from sslcore.tasks.base import Box, PretextBatch, PreviewImage, PreviewItem, as_float_images, param


@dataclass
class ViewParams:
    crop_min: float = param(0.2, "Smallest crop, as a fraction of the image area (SimCLR: 0.08).", min=0.05, max=1.0)
    color_strength: float = param(0.5, "Strength of colour jitter (brightness, contrast, saturation, hue).", min=0.0, max=1.5)
    grayscale_p: float = param(0.2, "Probability that a view is turned grey.", min=0.0, max=1.0)
    blur_p: float = param(0.0, "Probability of a Gaussian blur (SimCLR's CIFAR recipe leaves it off).", min=0.0, max=1.0)
    flip: bool = param(True, "Mirror views left-right at random.")


def make_views(images: Tensor, gen: torch.Generator, p: ViewParams) -> PretextBatch:
    """inputs = [view 1 of every image; view 2 of every image]: row i and row i+B are a positive pair.

    Every random parameter is drawn per view, so the two views of one image differ and no two images
    share a crop or a colour shift.
    """
    x = as_float_images(images)
    both = torch.cat([x, x])
    views, boxes = random_resized_crop(both, gen, scale=(p.crop_min, 1.0), flip_p=0.5 if p.flip else 0.0)
    views = color_jitter(views, gen, p.color_strength)
    views = random_grayscale(views, gen, p.grayscale_p)
    views = random_blur(views, gen, p.blur_p)
    return PretextBatch(views, None, x, {"boxes": boxes})


def contrastive_pair(n: int) -> str:
    """SimCLR's side of a pair: every other view in the batch is a negative."""
    if n > 1:
        return f"the other {2 * n - 2} views in this batch are its negatives"
    return "in training, the views of the other images in the batch are its negatives"


def explain_views(batch: PretextBatch, about_the_pair=contrastive_pair) -> list[PreviewItem]:
    """Each original with both crop windows outlined, its two views, and the positive-pair label; what the rest
    of the label says is the method's (``about_the_pair(images in the batch)``: negatives, or none)."""
    n = len(batch)
    size = batch.originals.shape[-1]
    items = []
    for i in range(n):
        boxes = []
        for j, colour in ((i, (255, 64, 64)), (i + n, (64, 128, 255))):
            x0, y0, x1, y1 = (batch.extra["boxes"][j] * size).round().int().tolist()
            boxes.append(Box(x0, y0, max(x0, x1 - 1), max(y0, y1 - 1), colour))
        items.append(
            PreviewItem(
                PreviewImage(batch.originals[i], "original (red: view 1's crop, blue: view 2's crop)", boxes),
                [PreviewImage(batch.inputs[i], "view 1 (red crop)"), PreviewImage(batch.inputs[i + n], "view 2 (blue crop)")],
                f"positive pair: view 1 and view 2 of image {i + 1} come from the same image; {about_the_pair(n)}",
            )
        )
    return items
