"""The one in-memory dataset shape every part of Pretext Lab uses."""

from dataclasses import dataclass, field
from typing import ClassVar

import torch

UNLABELLED = -1


@dataclass
class Factor:
    """One factor of variation recorded per example, beside the class: what a probe can try to read back.

    values: (N,) int64 category codes when ``categories`` names them, else float32 (N,) or (N, D) numbers.
    probe: False for details kept only so the example can be reproduced (a texture's phase, say).
    A dataset's ``factors`` is a plain dict of these, so any dataset (an uploaded CSV, a future set) can
    bring its own.
    """

    values: torch.Tensor
    categories: list[str] | None = None
    probe: bool = True

    @property
    def categorical(self) -> bool:
        return self.categories is not None

    def subset(self, index: torch.Tensor) -> "Factor":
        return Factor(self.values[index], self.categories, self.probe)


def subset_factors(factors: dict[str, Factor], index) -> dict[str, Factor]:
    index = torch.as_tensor(index, dtype=torch.long)
    return {name: f.subset(index) for name, f in factors.items()}


@dataclass
class ImageDataset:
    """A whole dataset as one uint8 tensor, so training can keep it on the device and augment in batches.

    images: uint8 (N, 3, H, W); labels: int64 (N,), ``UNLABELLED`` (-1) where unknown;
    class_names: names indexed by label; names: one display name per image (file name or "shapes #12").
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    names: list[str] = field(default_factory=list)
    factors: dict[str, Factor] = field(default_factory=dict)  # extra factors of variation, by name
    modality: ClassVar[str] = "image"

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be uint8 (N,3,H,W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (len(self.images),):
            raise ValueError("labels must have one entry per image")
        if not self.names:
            self.names = [f"{self.name} #{i}" for i in range(len(self.images))]
        if any(len(f.values) != len(self.images) for f in self.factors.values()):
            raise ValueError("every factor must have one value per image")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def inputs(self) -> torch.Tensor:
        """What training indexes rows of (a text dataset's are token ids)."""
        return self.images

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def labelled(self) -> bool:
        return bool(len(self) and (self.labels >= 0).all())

    def subset(self, index) -> "ImageDataset":
        index = torch.as_tensor(index, dtype=torch.long)
        return ImageDataset(
            self.name,
            self.images[index],
            self.labels[index],
            self.class_names,
            [self.names[i] for i in index.tolist()],
            subset_factors(self.factors, index),
        )
