"""Inpainting with a context encoder (Pathak et al., CVPR 2016)."""

from dataclasses import dataclass

import torch
from torch import Tensor

from sslcore.augment import randint
from sslcore.losses import reconstruction_loss
from sslcore.models.heads import VectorDecoder
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

FILL = 0.5  # hidden pixels become mid-grey: the backbone normalises this to zero


class Inpainting(PretextTask):
    name = "inpainting"
    title = "Inpainting (context encoder)"
    kind = "reconstruction"
    summary = "Hide a square region of the image and reconstruct it from the context around it."
    metric = "psnr"
    metric_label = "hidden-region PSNR (dB)"
    teaching = Teaching(
        predicts="The pixels of a hidden square, from everything around it.",
        why="Filling a hole plausibly needs to know what the object is and how it continues — that part of "
        "a house behind the hole is probably wall, not sky.",
        shortcuts="Smooth images can be filled by copying and blurring the border colours, which needs no "
        "understanding; an L2 loss rewards exactly such blurry averages.",
        guard="Hide a large region (so border copying fails in the middle) and at random places (so the "
        "network cannot specialise on one hole): the paper's feature-learning experiments used random blocks "
        "and random regions, its central region only for the reconstruction figures. We hide one random "
        "square (the paper's best features came from random, arbitrarily shaped regions) and use no "
        "adversarial loss (the paper adds one against blur).",
        paper="Pathak, Krähenbühl, Donahue, Darrell & Efros. Context Encoders: Feature Learning by Inpainting. "
        "CVPR 2016.",
    )

    @dataclass
    class Params:
        region: str = param(
            "random",
            "Hide a square at a random place (as the paper did for feature learning) or the central square (the "
            "paper's reconstruction figures; the network can specialise on that one hole).",
            choices=("random", "center"),
        )
        size: float = param(0.5, "Side of the hidden square as a fraction of the image side.", min=0.1, max=0.9)

    def hole_size(self, image_size: int) -> int:
        return max(1, round(self.params.size * image_size))

    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        x = as_float_images(images)
        b, _, h, w = x.shape
        s = self.hole_size(h)
        if self.params.region == "center":
            top = torch.full((b,), (h - s) // 2, device=x.device)
            left = torch.full((b,), (w - s) // 2, device=x.device)
        else:
            top, left = randint(gen, h - s + 1, (b,), x.device), randint(gen, w - s + 1, (b,), x.device)
        rows = torch.arange(h, device=x.device).view(1, h, 1)
        cols = torch.arange(w, device=x.device).view(1, 1, w)
        top_, left_ = top.view(b, 1, 1), left.view(b, 1, 1)
        mask = ((rows >= top_) & (rows < top_ + s) & (cols >= left_) & (cols < left_ + s)).unsqueeze(1)
        inputs = torch.where(mask, torch.full_like(x, FILL), x)
        return PretextBatch(inputs, x, x, {"mask": mask, "corner": torch.stack([top, left], 1), "hole": torch.tensor(s)})

    def head(self, backbone, image_size):
        return VectorDecoder(backbone.feature_dim, 3, image_size)

    def loss(self, out, batch):
        return reconstruction_loss(out, batch.targets, batch.extra["mask"])

    def explain(self, batch):
        s = int(batch.extra["hole"])
        items = []
        for i in range(len(batch)):
            top, left = batch.extra["corner"][i].tolist()
            box = [Box(left - 1, top - 1, left + s, top + s)]
            items.append(
                PreviewItem(
                    PreviewImage(batch.originals[i], "original (red: region to reconstruct)", box),
                    [PreviewImage(batch.inputs[i], "network input", box)],
                    f"reconstruct the hidden {s}×{s} region ({100 * s * s / batch.inputs[i].shape[-1] ** 2:.0f}% of the image)",
                )
            )
        return items
