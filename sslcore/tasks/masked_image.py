"""Masked image modelling, SimMIM-style (Xie et al., CVPR 2022) on a convolutional backbone, with MAE's mask
ratio and normalised-pixel targets (He et al., CVPR 2022).

The network sees the whole image with the hidden patches filled in (a constant grey where SimMIM learns a
mask token) and a light decoder predicts their pixels: a SimMIM-style model. MAE's encoder never sees the
hidden patches at all (it runs on the visible ones only), which a CNN cannot do.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslcore.augment import to_device
from sslcore.errors import ConfigError
from sslcore.losses import reconstruction_loss
from sslcore.models.heads import ConvDecoder
from sslcore.models.protocols import ImageBackbone, require
from sslcore.tasks.base import (
    PretextBatch,
    PretextTask,
    PreviewImage,
    PreviewItem,
    Teaching,
    as_float_images,
    param,
)

FILL = 0.5


def random_patch_mask(b: int, grid: int, ratio: float, gen: torch.Generator, device) -> Tensor:
    """(B, grid, grid) bool, exactly round(ratio·grid²) patches true per image: argsort of uniform noise."""
    n = grid * grid
    hidden = round(ratio * n)
    ranks = torch.rand(b, n, generator=gen).argsort(1).argsort(1)
    return to_device((ranks < hidden).view(b, grid, grid), device)


class MaskedImage(PretextTask):
    name = "masked_image"
    title = "Masked image modelling (SimMIM-style)"
    kind = "reconstruction"
    summary = "Hide a random majority of square patches and reconstruct the hidden pixels."
    metric = "psnr"
    metric_label = "masked-patch PSNR (dB)"
    teaching = Teaching(
        predicts="The pixels of every hidden patch, from the visible ones.",
        why="With most of the image gone, neighbouring pixels are too far away to copy: the network must "
        "infer the missing parts from a holistic idea of the object.",
        shortcuts="With a low mask ratio each hidden patch has visible neighbours, and interpolating them is "
        "enough; small patches make that easier still.",
        guard="A high mask ratio (75%, MAE's) and patches large enough that interpolation fails; normalising each "
        "patch's target pixels (norm_pix, MAE's, on by default) makes the loss about structure, not brightness. "
        "This is a SimMIM-style model: the CNN sees the whole image with hidden patches filled grey (SimMIM "
        "learns a mask token there) and a light decoder predicts them. MAE's encoder never sees the hidden "
        "patches at all. SimMIM itself hid 60% in 32-px patches and regressed raw pixels with an L1 loss; we "
        "use MAE's ratio, targets and an L2 loss.",
        paper="Xie et al. SimMIM: A Simple Framework for Masked Image Modeling. CVPR 2022; He, Chen, Xie, Li, "
        "Dollár & Girshick. Masked Autoencoders Are Scalable Vision Learners. CVPR 2022.",
    )

    @dataclass
    class Params:
        patch: int = param(4, "Patch side in pixels; the image is a grid of such patches.", choices=(2, 4, 8, 16))
        mask_ratio: float = param(0.75, "Fraction of patches hidden in each image (MAE: 0.75).", min=0.05, max=0.95)
        norm_pix: bool = param(
            True,
            "Reconstruct each patch normalised to zero mean and unit variance (MAE's norm_pix_loss); its PSNR is "
            "then measured with each patch's true mean and spread put back.",
        )

    def check(self, image_size: int) -> None:
        if image_size % self.params.patch or image_size // self.params.patch < 2:
            raise ConfigError(
                f"masked_image: {image_size}px images cannot be cut into a grid of {self.params.patch}px patches "
                "(the size must be a multiple of the patch, with at least 2 per side)"
            )

    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        x = as_float_images(images)
        grid = x.shape[-1] // self.params.patch
        patch_mask = random_patch_mask(len(x), grid, self.params.mask_ratio, gen, x.device)
        mask = patch_mask.repeat_interleave(self.params.patch, 1).repeat_interleave(self.params.patch, 2).unsqueeze(1)
        inputs = torch.where(mask, torch.full_like(x, FILL), x)
        targets = normalise_patches(x, self.params.patch) if self.params.norm_pix else x
        return PretextBatch(inputs, targets, x, {"mask": mask, "patch_mask": patch_mask})

    def head(self, backbone, image_size):
        require(backbone, ImageBackbone, "masked image modelling decodes pixels from the backbone's spatial map")
        return ConvDecoder(backbone.feature_dim, 3, backbone.stride)

    def forward(self, backbone: nn.Module, head: nn.Module, batch: PretextBatch):
        return head(backbone.forward_map(batch.inputs))

    def loss(self, out, batch):
        if not self.params.norm_pix:
            return reconstruction_loss(out, batch.targets, batch.extra["mask"])
        if out.shape[-2:] != batch.targets.shape[-2:]:
            out = F.interpolate(out.float(), size=batch.targets.shape[-2:], mode="bilinear", align_corners=False)
        # PSNR in pixels, as the figures of MAE show it: each patch with its true mean and spread put back
        shown = denormalise_patches(out.float(), batch.originals, self.params.patch)
        return reconstruction_loss(out, batch.targets, batch.extra["mask"], pixels=(shown, batch.originals))

    def explain(self, batch):
        items = []
        for i in range(len(batch)):
            mask = batch.extra["mask"][i]
            hidden = int(batch.extra["patch_mask"][i].sum())
            total = batch.extra["patch_mask"][i].numel()
            target = torch.where(mask, batch.originals[i], torch.full_like(batch.originals[i], 1.0))
            items.append(
                PreviewItem(
                    PreviewImage(batch.originals[i], "original"),
                    [PreviewImage(batch.inputs[i], "network input"), PreviewImage(target, "target: hidden patches")],
                    f"reconstruct {hidden} of {total} hidden patches ({100 * hidden / total:.0f}%)",
                )
            )
        return items


def normalise_patches(x: Tensor, patch: int) -> Tensor:
    """Each patch of each channel shifted and scaled to zero mean, unit variance (MAE's norm_pix_loss)."""
    b, c, h, w = x.shape
    cols = F.unfold(x, patch, stride=patch)  # (B, C*p*p, L)
    cols = cols.view(b, c, patch * patch, -1)
    cols = (cols - cols.mean(2, keepdim=True)) / (cols.var(2, keepdim=True) + 1e-6).sqrt()
    return F.fold(cols.view(b, c * patch * patch, -1), (h, w), patch, stride=patch)


def denormalise_patches(pred: Tensor, originals: Tensor, patch: int) -> Tensor:
    """Undo ``normalise_patches`` with the true patches' mean and spread (as the MAE paper shows its output)."""
    b, c, h, w = originals.shape
    cols = F.unfold(originals, patch, stride=patch).view(b, c, patch * patch, -1)
    mean, std = cols.mean(2, keepdim=True), (cols.var(2, keepdim=True) + 1e-6).sqrt()
    pcols = F.unfold(pred, patch, stride=patch).view(b, c, patch * patch, -1)
    return F.fold((pcols * std + mean).view(b, c * patch * patch, -1), (h, w), patch, stride=patch)
