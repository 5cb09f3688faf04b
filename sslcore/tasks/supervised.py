"""Supervised training on the real labels: not a pretext task, the upper reference in comparisons."""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sslcore.augment import random_resized_crop
from sslcore.kinds import SUPERVISED
from sslcore.losses import classification_loss
from sslcore.tasks.base import (
    PretextBatch,
    PretextTask,
    PreviewImage,
    PreviewItem,
    Teaching,
    as_float_images,
    param,
)


class Supervised(PretextTask):
    name = SUPERVISED  # the run kind's own name (sslcore/kinds.py)
    title = "Supervised (reference)"
    kind = "reference"
    modality = "any"  # images or token rows: the reference of every comparison
    summary = "Train on the real labels under the same budget: what a pretext task should approach."
    metric_label = "training accuracy on real labels"
    needs_labels = True
    teaching = Teaching(
        predicts="The real class of each image, from human labels.",
        why="It optimises the downstream task directly, so under the same budget it is the upper reference: "
        "how close a pretext task gets to it, without any labels, is the measure of the pretext task.",
        shortcuts="With few labels it overfits; its features are specialised to these classes.",
        guard="Light augmentation (random crops and flips), the same as the pretext tasks get.",
        paper="The standard baseline of every self-supervised paper, e.g. Chen et al. 2020 (SimCLR), Table 8.",
    )

    @dataclass
    class Params:
        crop_min: float = param(0.5, "Smallest random crop, as a fraction of the image area.", min=0.1, max=1.0)
        flip: bool = param(True, "Mirror images left-right at random.")

    def __init__(self, params=None, num_classes: int = 10, **values):
        super().__init__(params, **values)
        self.num_classes = num_classes

    def make_batch(self, x: Tensor, gen: torch.Generator) -> PretextBatch:
        """Images: a random crop (and flip) of each. Text rows (B, 2, L): the sentence itself, as it will be
        evaluated. The training loop fills ``targets`` with the real labels."""
        if x.dtype == torch.long:
            return PretextBatch(x[:, 0] if x.ndim == 3 else x, None, x)
        x = as_float_images(x)
        inputs, _ = random_resized_crop(x, gen, scale=(self.params.crop_min, 1.0), flip_p=0.5 if self.params.flip else 0.0)
        return PretextBatch(inputs, None, x)

    def head(self, backbone, image_size):
        return nn.Linear(backbone.feature_dim, self.num_classes)

    def loss(self, out, batch):
        return classification_loss(out, batch.targets)

    def explain(self, batch):
        return [
            PreviewItem(
                PreviewImage(batch.originals[i], "original"),
                [PreviewImage(batch.inputs[i], "network input")],
                "predict the real class label" if batch.targets is None else f"class {int(batch.targets[i])}",
            )
            for i in range(len(batch))
        ]
