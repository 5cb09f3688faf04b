"""Rotation prediction (Gidaris, Singh & Komodakis, ICLR 2018)."""

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from sslcore.augment import randint, rot90_each, to_device
from sslcore.losses import classification_loss
from sslcore.models.heads import MLP
from sslcore.tasks.base import (
    PretextBatch,
    PretextTask,
    PreviewImage,
    PreviewItem,
    Teaching,
    as_float_images,
    param,
)


class Rotation(PretextTask):
    name = "rotation"
    title = "Rotation prediction"
    kind = "classification"
    summary = "Rotate each image by a multiple of 90° and predict the angle."
    teaching = Teaching(
        predicts="Which of 0°, 90°, 180° or 270° the image was rotated by.",
        why="To know which way is up, the network must find the object and recognise its parts: a "
        "tree's trunk goes down, an arrow points up. That is object knowledge, not pixel statistics.",
        shortcuts="Anything that is not rotation-invariant leaks the angle: a dark band at the top of every "
        "photo (sky), border artefacts, or JPEG block patterns. Round, symmetric objects give no signal at all.",
        guard="Use multiples of 90° only (rot90 is exact: no interpolation blur or black corners to "
        "detect) and feed all rotations of an image in the same batch so the label is balanced.",
        paper="Gidaris, Singh & Komodakis. Unsupervised Representation Learning by Predicting Image "
        "Rotations. ICLR 2018.",
    )

    @dataclass
    class Params:
        angles: int = param(4, "How many angles to tell apart: 2 (0°/180°) or 4 (0/90/180/270°).", choices=(2, 4))
        all_rotations: bool = param(
            True, "Feed every rotation of each image in the same batch (as in the paper) instead of one at random."
        )

    def lesson(self) -> Teaching:
        """With angles=2 the task tells only 0° from 180°: the lesson says so."""
        if self.params.angles == 2:
            return dataclasses.replace(self.teaching, predicts="Whether the image was rotated by 0° or by 180°.")
        return self.teaching

    def quarter_turns(self) -> list[int]:
        return [0, 2] if self.params.angles == 2 else [0, 1, 2, 3]

    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        x = as_float_images(images)
        turns = self.quarter_turns()
        n = len(turns)
        if self.params.all_rotations:  # every image in every rotation: balanced labels, no sampling
            labels = torch.arange(n, device=x.device).repeat_interleave(len(x))
            originals = x.repeat(n, 1, 1, 1)
            inputs = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in turns])
        else:
            labels = randint(gen, n, (len(x),), x.device)
            originals = x
        quarter = to_device(torch.tensor(turns), x.device)[labels]
        if not self.params.all_rotations:
            inputs = rot90_each(x, quarter)
        return PretextBatch(inputs, labels, originals, {"quarter_turns": quarter})

    def head(self, backbone, image_size):
        return MLP(backbone.feature_dim, 256, self.params.angles)

    def loss(self, out, batch):
        return classification_loss(out, batch.targets)

    def explain(self, batch):
        return [
            PreviewItem(
                PreviewImage(batch.originals[i], "original"),
                [PreviewImage(batch.inputs[i], "network input")],
                f"rotated {90 * int(batch.extra['quarter_turns'][i])}° counter-clockwise → class {int(batch.targets[i])}",
            )
            for i in range(len(batch))
        ]
