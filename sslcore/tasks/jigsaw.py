"""Jigsaw puzzles (Noroozi & Favaro, ECCV 2016)."""

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor, nn

from sslcore.augment import crop_squares, randint, to_device
from sslcore.errors import ConfigError
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

MIN_TILE = 4  # pixels; smaller tiles carry too little to recognise


MAX_CANDIDATES = 50_000  # 9! = 362,880 candidates would take seconds; a random pool this size is as good


@lru_cache(maxsize=16)
def permutation_set(tiles: int, size: int, seed: int = 0) -> np.ndarray:
    """``size`` permutations of ``tiles`` items chosen greedily for maximal minimum Hamming distance.

    Noroozi & Favaro show that well-separated permutations make the task harder to solve by
    telling apart a few tile positions, and give better features. The identity is always first.
    """
    rng = np.random.default_rng(seed)
    if math.factorial(tiles) <= MAX_CANDIDATES:
        pool = np.array(list(itertools.permutations(range(tiles))), dtype=np.int8)
    else:
        pool = np.argsort(rng.random((MAX_CANDIDATES, tiles)), axis=1).astype(np.int8)
        pool[0] = np.arange(tiles)
    size = min(size, len(pool))
    chosen = [0]  # the identity
    min_dist = (pool != pool[0]).sum(1)
    for _ in range(size - 1):
        pick = int(rng.choice(np.flatnonzero(min_dist == min_dist.max())))
        chosen.append(pick)
        min_dist = np.minimum(min_dist, (pool != pool[pick]).sum(1))
    return pool[chosen].astype(np.int64)


def min_hamming(perms: np.ndarray) -> int:
    """Smallest Hamming distance between two permutations of a set (how easy to confuse they are)."""
    diff = (perms[:, None, :] != perms[None, :, :]).sum(-1)
    np.fill_diagonal(diff, perms.shape[1])
    return int(diff.min())


def cut_tiles(x: Tensor, grid: int, tile: int, offsets: Tensor) -> Tensor:
    """Cut a grid×grid set of tile×tile squares; ``offsets`` (B, T, 2) shift each inside its cell.

    Returns (B, T, C, tile, tile) in row-major position order; each image has its own jitter.
    """
    cell = x.shape[-2] // grid
    pos = torch.arange(grid * grid, device=x.device)
    cells = torch.stack([pos // grid, pos % grid], dim=1) * cell  # (T, 2) top-left of each cell
    return crop_squares(x, cells + offsets, tile)


class Jigsaw(PretextTask):
    name = "jigsaw"
    title = "Jigsaw puzzle"
    kind = "classification"
    summary = "Cut the image into tiles, shuffle them with one of K permutations, predict which one."
    teaching = Teaching(
        predicts="Which permutation (out of a fixed set of K) shuffled the tiles.",
        why="Putting tiles back in order requires knowing what parts of objects look like and how they sit "
        "together: a roof goes above walls. Each tile is seen on its own, so the network must describe tiles, "
        "not copy pixels across borders.",
        shortcuts="Tiles that touch can be matched by continuing edges and lines across the border, or by "
        "chromatic aberration and vignetting that reveal where in the frame a tile came from.",
        guard="A gap between tiles and random jitter of each tile inside its cell break edge continuity; each "
        "tile's mean and spread are normalised on their own, so tiles cannot be ordered by brightness or "
        "contrast (our shapes' gradient backgrounds would give that away); a permutation set with a large "
        "minimum Hamming distance keeps classes from being near-duplicates. The paper also jitters colour and "
        "grey-scales some tiles against chromatic aberration; we do not.",
        paper="Noroozi & Favaro. Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles. "
        "ECCV 2016.",
    )

    @dataclass
    class Params:
        grid: int = param(2, "Tiles per side: 2 (4 tiles) or 3 (9 tiles, as in the paper).", choices=(2, 3))
        permutations: int = param(24, "Size K of the permutation set (the number of classes).", min=2, max=1000)
        gap: int = param(2, "Pixels left out between neighbouring tiles, against edge-matching shortcuts.", min=0, max=16)
        jitter: bool = param(True, "Shift each tile randomly within its gap, so borders never line up exactly.")
        normalize_tiles: bool = param(
            True,
            "Normalise each tile to zero mean and unit spread on its own (the paper), so tiles cannot be put in "
            "order by their brightness or contrast, e.g. along a gradient background.",
        )

    def perms(self) -> np.ndarray:
        return permutation_set(self.params.grid**2, self.params.permutations)

    @property
    def num_classes(self) -> int:
        return len(self.perms())

    def tile_size(self, image_size: int) -> int:
        return image_size // self.params.grid - self.params.gap

    def check(self, image_size: int) -> None:
        tile = self.tile_size(image_size)
        if tile < MIN_TILE:
            raise ConfigError(
                f"jigsaw: {image_size}px images are too small for a {self.params.grid}×{self.params.grid} grid "
                f"with gap {self.params.gap} (tiles would be {tile}px; need at least {MIN_TILE}px). "
                "Use a smaller grid or gap, or larger images."
            )
        if self.params.permutations > math.factorial(self.params.grid**2):
            raise ConfigError(
                f"jigsaw: a {self.params.grid}×{self.params.grid} grid has only "
                f"{math.factorial(self.params.grid**2)} permutations; asked for {self.params.permutations}"
            )

    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        x = as_float_images(images)
        b, tiles_n = len(x), self.params.grid**2
        tile = self.tile_size(x.shape[-1])
        if self.params.jitter and self.params.gap > 0:
            offsets = randint(gen, self.params.gap + 1, (b, tiles_n, 2), x.device)
        else:
            offsets = torch.full((b, tiles_n, 2), self.params.gap // 2, device=x.device)
        tiles = cut_tiles(x, self.params.grid, tile, offsets)
        if self.params.normalize_tiles:
            tiles = normalise_tiles(tiles)
        perms = to_device(torch.as_tensor(self.perms()), x.device)
        labels = randint(gen, len(perms), (b,), x.device)
        order = perms[labels]  # slot i shows the tile from position order[b, i]
        shuffled = tiles[torch.arange(b, device=x.device)[:, None], order]
        return PretextBatch(shuffled, labels, x, {"order": order, "offsets": offsets})

    def head(self, backbone, image_size):
        return MLP(backbone.feature_dim * self.params.grid**2, 512, self.num_classes)

    def forward(self, backbone: nn.Module, head: nn.Module, batch: PretextBatch):
        """Each tile goes through the backbone on its own (the paper's siamese 'context-free' network)."""
        b, t = batch.inputs.shape[:2]
        features = backbone(batch.inputs.flatten(0, 1))
        return head(features.view(b, t * features.shape[1]))

    def loss(self, out, batch):
        return classification_loss(out, batch.targets)

    def explain(self, batch):
        items = []
        shown = displayable_tiles(batch.inputs) if self.params.normalize_tiles else batch.inputs
        caption = "shuffled tiles (network input" + (", each normalised; shown stretched)" if self.params.normalize_tiles else ")")
        for i in range(len(batch)):
            order = " ".join(str(int(v)) for v in batch.extra["order"][i])
            items.append(
                PreviewItem(
                    PreviewImage(batch.originals[i], "original"),
                    [PreviewImage(assemble_tiles(shown[i], self.params.grid), caption)],
                    f"permutation {int(batch.targets[i])} of {self.num_classes}: tiles {order}",
                )
            )
        return items


def normalise_tiles(tiles: Tensor, eps: float = 1e-3) -> Tensor:
    """(B, T, C, t, t) tiles, each shifted and scaled to zero mean and unit std over its channels and pixels
    (Noroozi & Favaro normalise every tile independently); ``eps`` keeps a flat tile finite (all zeros)."""
    mean = tiles.mean(dim=(2, 3, 4), keepdim=True)
    std = tiles.std(dim=(2, 3, 4), keepdim=True)
    return (tiles - mean) / (std + eps)


def displayable_tiles(tiles: Tensor) -> Tensor:
    """Normalised tiles stretched into [0, 1] one by one (min to max), only so a person can see them."""
    low = tiles.amin(dim=(-3, -2, -1), keepdim=True)
    high = tiles.amax(dim=(-3, -2, -1), keepdim=True)
    return (tiles - low) / (high - low).clamp(min=1e-6)


def assemble_tiles(tiles: Tensor, grid: int, border: int = 1) -> Tensor:
    """Lay (T, C, t, t) tiles out row-major with a white border between them, for display."""
    t = tiles.shape[-1]
    step = t + border
    canvas = tiles.new_ones(tiles.shape[1], grid * step - border, grid * step - border)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, grid)
        canvas[:, r * step : r * step + t, c * step : c * step + t] = tile
    return canvas
