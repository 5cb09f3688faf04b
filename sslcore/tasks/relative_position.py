"""Relative patch position (Doersch, Gupta & Efros, ICCV 2015)."""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sslcore.augment import crop_squares, randint, to_device
from sslcore.errors import ConfigError
from sslcore.losses import classification_loss
from sslcore.models.heads import MLP
from sslcore.tasks.base import (
    Box,
    PretextBatch,
    PretextTask,
    PreviewImage,
    PreviewItem,
    Teaching,
    as_float_images,
    param,
)

# The 8 neighbours of the centre cell as (row, col) steps, in label order.
NEIGHBOURS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
NEIGHBOUR_NAMES = ["top-left", "top", "top-right", "left", "right", "bottom-left", "bottom", "bottom-right"]
MIN_PATCH = 4


class RelativePosition(PretextTask):
    name = "relative_position"
    title = "Relative patch position"
    kind = "classification"
    summary = "Show a centre patch and one of its 8 neighbours; predict where the neighbour sits."
    teaching = Teaching(
        predicts="Which of the 8 positions around the centre patch the second patch was taken from.",
        why="Knowing that an eye sits above a mouth, or a roof above a door, needs a description of what "
        "each patch shows — the kind of feature that transfers to recognising objects.",
        shortcuts="Lines and textures that continue across patch borders; and chromatic aberration: lenses "
        "shift colour channels towards the frame's edge, which tells a network where a patch lies in the "
        "image without looking at content.",
        guard="A gap and random jitter between patches break continuity; colour dropping (keep one random "
        "channel, replace the other two with faint Gaussian noise, about 1/100 of the kept channel's spread) "
        "removes the chromatic-aberration cue. It is off by default here: the built-in images are drawn, not "
        "photographed, so they carry no aberration; turn it on for photographs.",
        paper="Doersch, Gupta & Efros. Unsupervised Visual Representation Learning by Context Prediction. "
        "ICCV 2015.",
    )

    @dataclass
    class Params:
        gap: int = param(2, "Pixels between neighbouring patches, against edge-continuation shortcuts.", min=0, max=16)
        jitter: int = param(1, "Each patch moves randomly by up to this many pixels.", min=0, max=8)
        drop_color: bool = param(
            False,
            "Keep one random colour channel per patch and replace the others with faint noise (the paper's fix "
            "for chromatic aberration; off by default, as drawn images have none).",
        )
        drop_noise: float = param(
            0.01,
            "Spread of the noise that replaces dropped channels, relative to the kept channel's (the paper: "
            "about 1/100).",
            min=0.0,
            max=1.0,
        )

    def patch_size(self, image_size: int) -> int:
        return (image_size - 2 * self.params.gap - 2 * self.params.jitter) // 3

    def check(self, image_size: int) -> None:
        patch = self.patch_size(image_size)
        if patch < MIN_PATCH:
            raise ConfigError(
                f"relative_position: {image_size}px images leave {patch}px patches with gap {self.params.gap} "
                f"and jitter {self.params.jitter}; need at least {MIN_PATCH}px. Lower them or use larger images."
            )

    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        x = as_float_images(images)
        b, device = len(x), x.device
        p, gap, jit = self.patch_size(x.shape[-1]), self.params.gap, self.params.jitter
        labels = randint(gen, 8, (b,), device)
        steps = to_device(torch.tensor(NEIGHBOURS), device)[labels]  # (B, 2) row/col step
        cells = torch.stack([torch.ones_like(steps), steps + 1], dim=1)  # (B, 2 patches, 2): centre, neighbour
        corners = jit + cells * (p + gap) + randint(gen, 2 * jit + 1, (b, 2, 2), device) - jit
        patches = crop_squares(x, corners, p)
        if self.params.drop_color:
            patches = drop_colors(patches, gen, self.params.drop_noise)
        return PretextBatch(patches, labels, x, {"corners": corners, "patch": torch.tensor(p)})

    def head(self, backbone, image_size):
        return MLP(2 * backbone.feature_dim, 512, 8)

    def forward(self, backbone: nn.Module, head: nn.Module, batch: PretextBatch):
        """Both patches go through the same backbone; the head sees their features side by side."""
        b = len(batch.inputs)
        features = backbone(batch.inputs.flatten(0, 1))
        return head(features.view(b, -1))

    def loss(self, out, batch):
        return classification_loss(out, batch.targets)

    def explain(self, batch):
        p = int(batch.extra["patch"])
        items = []
        for i in range(len(batch)):
            (cy, cx), (ny, nx) = batch.extra["corners"][i].tolist()
            boxes = [Box(cx, cy, cx + p - 1, cy + p - 1, (64, 128, 255)), Box(nx, ny, nx + p - 1, ny + p - 1)]
            where = NEIGHBOUR_NAMES[int(batch.targets[i])]
            items.append(
                PreviewItem(
                    PreviewImage(batch.originals[i], "original (blue: centre, red: neighbour)", boxes),
                    [PreviewImage(batch.inputs[i, 0], "centre patch"), PreviewImage(batch.inputs[i, 1], "neighbour")],
                    f"patch is {where} of the centre → class {int(batch.targets[i])}",
                )
            )
        return items


def drop_colors(patches: Tensor, gen: torch.Generator, scale: float = 0.01) -> Tensor:
    """Keep one random channel per patch, replace the other two with Gaussian noise around the kept channel's
    mean whose std is ``scale`` times the kept channel's (Doersch et al.: about 1/100)."""
    b, n, c = patches.shape[:3]
    keep = randint(gen, c, (b, n), patches.device)
    kept = patches.gather(2, keep.view(b, n, 1, 1, 1).expand(-1, -1, 1, *patches.shape[3:]))
    noise = to_device(torch.randn(patches.shape, generator=gen), patches.device) * (scale * kept.std(dim=(2, 3, 4), keepdim=True))
    mask = torch.nn.functional.one_hot(keep, c).bool().view(b, n, c, 1, 1)
    out = torch.where(mask, patches, (kept.mean(dim=(2, 3, 4), keepdim=True) + noise).clamp(0, 1))
    return out
