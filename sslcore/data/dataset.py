"""The one in-memory dataset shape every part of Pretext Lab uses."""

from dataclasses import dataclass, field
from typing import ClassVar

import torch

UNLABELLED = -1


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
    modality: ClassVar[str] = "image"

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be uint8 (N,3,H,W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (len(self.images),):
            raise ValueError("labels must have one entry per image")
        if not self.names:
            self.names = [f"{self.name} #{i}" for i in range(len(self.images))]

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
            self.name, self.images[index], self.labels[index], self.class_names, [self.names[i] for i in index.tolist()]
        )
