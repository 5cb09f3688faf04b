"""Colorization (Zhang, Isola & Efros, ECCV 2016): lightness in, colour out."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslcore.color import AB_RANGE, lab_to_rgb, rgb_to_lab
from sslcore.losses import binned_regression_loss, classification_loss
from sslcore.models.heads import ConvDecoder
from sslcore.models.protocols import ImageBackbone, require
from sslcore.tasks.base import PretextBatch, PretextTask, PreviewImage, PreviewItem, Teaching, as_float_images, param


def ab_to_bins(ab: Tensor, bins: int) -> Tensor:
    """Quantise (B, 2, H, W) ab values onto a bins×bins grid over [-AB_RANGE, AB_RANGE]; (B, H, W) class ids."""
    idx = ((ab + AB_RANGE) / (2 * AB_RANGE) * bins).long().clamp(0, bins - 1)
    return idx[:, 0] * bins + idx[:, 1]


def bins_to_ab(ids: Tensor, bins: int) -> Tensor:
    """Centre of each ab bin, the inverse of ``ab_to_bins`` up to half a bin."""
    width = 2 * AB_RANGE / bins
    a = (ids // bins).float() * width - AB_RANGE + width / 2
    b = (ids % bins).float() * width - AB_RANGE + width / 2
    return torch.stack([a, b], dim=1)


class Colorization(PretextTask):
    name = "colorization"
    title = "Colorization"
    kind = "reconstruction"
    summary = "Give the network only the lightness (L) of an image and have it predict the colour (ab)."
    teaching = Teaching(
        predicts="The colour of every pixel (the a and b channels of Lab), from the lightness channel alone.",
        why="Colour is not in the grey input, so the network has to recognise what it sees — grass is green, "
        "sky is blue — and where objects begin and end.",
        shortcuts="Predicting a greyish average colour everywhere already gives a low regression loss, so a "
        "regressing network learns little; objects whose colour is random (our shapes!) cannot be coloured "
        "from content at all.",
        guard="Predict a distribution over quantised colour bins with cross-entropy instead of regressing ab, "
        "so a vivid but uncertain guess is not punished like in L2.",
        paper="Zhang, Isola & Efros. Colorful Image Colorization. ECCV 2016.",
    )
    metric = "accuracy"
    metric_label = "colour-bin accuracy"

    @dataclass
    class Params:
        target: str = param("bins", "Predict quantised colour bins (as in the paper) or regress ab.", choices=("bins", "regress"))
        bins: int = param(
            11,
            "Bins per colour axis when target=bins (bins² classes). Odd counts keep grey grey: a bin is centred "
            "on the neutral colour, where even counts tint it pink or cyan.",
            min=2,
            max=32,
        )

    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        x = as_float_images(images)
        lab = rgb_to_lab(x)
        lightness, ab = lab[:, :1], lab[:, 1:]
        inputs = (lightness / 100).clamp(0, 1).expand(-1, 3, -1, -1).contiguous()
        targets = ab_to_bins(ab, self.params.bins) if self.params.target == "bins" else ab / AB_RANGE
        return PretextBatch(inputs, targets, x, {"lightness": lightness, "ab": ab})

    def head(self, backbone, image_size):
        require(backbone, ImageBackbone, "colorization decodes colours from the backbone's spatial map")
        out = self.params.bins**2 if self.params.target == "bins" else 2
        return ConvDecoder(backbone.feature_dim, out, backbone.stride)

    def forward(self, backbone: nn.Module, head: nn.Module, batch: PretextBatch):
        return head(backbone.forward_map(batch.inputs))

    def loss(self, out, batch):
        out = F.interpolate(out.float(), size=batch.inputs.shape[-2:], mode="bilinear", align_corners=False)
        if self.params.target == "bins":
            return classification_loss(out, batch.targets)
        # accuracy for regression: share of pixels whose colour lands in the right 10×10 bin
        return binned_regression_loss(out, batch.targets, lambda ab: ab_to_bins(ab * AB_RANGE, 10))

    def target_colours(self, batch: PretextBatch) -> Tensor:
        """The colour the network must produce, put back on the true lightness (as a person sees it)."""
        ab = bins_to_ab(batch.targets, self.params.bins) if self.params.target == "bins" else batch.targets * AB_RANGE
        return lab_to_rgb(torch.cat([batch.extra["lightness"], ab], dim=1))

    def explain(self, batch):
        targets = self.target_colours(batch)
        what = f"{self.params.bins ** 2} colour bins" if self.params.target == "bins" else "ab values"
        return [
            PreviewItem(
                PreviewImage(batch.originals[i], "original"),
                [PreviewImage(batch.inputs[i], "input: lightness only"), PreviewImage(targets[i], f"target: {what}")],
                f"predict the colour of each pixel ({what}) from its lightness",
            )
            for i in range(len(batch))
        ]
