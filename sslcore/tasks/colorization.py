"""Colorization (Zhang, Isola & Efros, ECCV 2016): lightness in, colour out.

Its network only ever sees the lightness channel as grey RGB, so its features are evaluated on that view
too (``eval_view = "grey"``): probed on colour images, colour would reach the features through first-layer
weights that never received a distinct gradient. The colour-bin cross-entropy is class-rebalanced and the
predictions view decodes the annealed mean, both as in the paper (simplifications: see the lesson).
"""

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslcore.color import AB_RANGE, grey_from_lightness, lab_to_rgb, rgb_to_lab
from sslcore.losses import binned_regression_loss, rebalancing_weights, weighted_classification_loss
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


PRIOR_MIX = 0.5  # λ of the rebalancing: half the empirical prior, half uniform (the paper's)
PRIOR_SIGMA = 5.0  # ab units: the Gaussian that smooths the empirical colour distribution (the paper's σ)
PRIOR_SAMPLE = 1000  # images whose colours estimate the prior (a fixed, seeded sample of the dataset)
ANNEAL_T = 0.38  # the paper's temperature of the annealed-mean decoding


def bin_centres(bins: int) -> Tensor:
    """(bins², 2) ab centre of every colour bin, in class-id order."""
    return bins_to_ab(torch.arange(bins * bins), bins).view(bins * bins, 2)


@lru_cache(maxsize=8)
def gamut_bins(bins: int) -> Tensor:
    """(bins²,) bool: the colour bins some sRGB colour falls in (the paper's Q in-gamut bins, on our grid)."""
    levels = torch.linspace(0, 1, 48)
    rgb = torch.cartesian_prod(levels, levels, levels).T.reshape(1, 3, -1, 1)
    used = torch.zeros(bins * bins, dtype=torch.bool)
    used[ab_to_bins(rgb_to_lab(rgb)[:, 1:], bins).flatten()] = True
    return used


def colour_prior(counts: Tensor, bins: int, sigma: float = PRIOR_SIGMA) -> Tensor:
    """p̃: (bins²,) counts of colour bins smoothed on the ab grid by a Gaussian of ``sigma`` ab units, kept to
    the in-gamut bins and normalised to sum 1."""
    grid = counts.double().view(1, 1, bins, bins)
    width = 2 * AB_RANGE / bins
    radius = max(1, math.ceil(3 * sigma / width))
    steps = torch.arange(-radius, radius + 1, dtype=torch.float64) * width
    kernel = torch.exp(-(steps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    smooth = F.conv2d(grid, kernel.view(1, 1, 1, -1), padding=(0, radius))
    smooth = F.conv2d(smooth, kernel.view(1, 1, -1, 1), padding=(radius, 0)).flatten()
    smooth = smooth * gamut_bins(bins).to(smooth.device)
    return (smooth / smooth.sum()).float()


def bin_counts(targets: Tensor, bins: int) -> Tensor:
    """How many pixels fall in each of the bins² colour bins."""
    return torch.bincount(targets.flatten(), minlength=bins * bins)


def annealed_mean(logits: Tensor, centres: Tensor, temperature: float = ANNEAL_T) -> Tensor:
    """Zhang et al.'s decoding of a (B, Q, H, W) colour distribution to (B, 2, H, W) ab: the mean of the bin
    ``centres`` (Q, 2) under softmax(log z / T), z = softmax(logits). T = 1 is the mean (desaturated),
    T -> 0 the mode (vivid but patchy); the paper's T = 0.38 sits between."""
    log_z = F.log_softmax(logits.float(), dim=1)
    weights = F.softmax(log_z / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", weights, centres.to(weights))


class Colorization(PretextTask):
    name = "colorization"
    title = "Colorization"
    kind = "reconstruction"
    summary = "Give the network only the lightness (L) of an image and have it predict the colour (ab)."
    eval_view = "grey"  # it never sees colour: its features are probed, mapped and fine-tuned on grey inputs
    teaching = Teaching(
        predicts="The colour of every pixel (the a and b channels of Lab), from the lightness channel alone.",
        why="Colour is not in the grey input, so the network has to recognise what it sees — grass is green, "
        "sky is blue — and where objects begin and end. It is evaluated on the grey inputs it was trained on "
        "(probes, kNN, maps, fine-tunes): its features cannot keep a colour they never saw.",
        shortcuts="Most pixels are greyish, so predicting a dull average colour everywhere already gives a low "
        "loss, and a regressing network learns little; objects whose colour is random (our shapes!) cannot be "
        "coloured from content at all.",
        guard="Predict a distribution over quantised colour bins with cross-entropy instead of regressing ab, "
        "so a vivid but uncertain guess is not punished like in L2; reweight each bin by the inverse of its "
        "smoothed frequency mixed half-and-half with uniform (class rebalancing, λ = 0.5), so rare saturated "
        "colours count; show the annealed mean of the distribution (T = 0.38). Simplified here: a square "
        "bins × bins grid over ab (the paper: 313 in-gamut bins of width 10), one hard bin per pixel (the paper "
        "soft-encodes each pixel over its 5 nearest bins), and the colour prior estimated from 1,000 images "
        "of this dataset (the paper: ImageNet).",
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
        rebalance: bool = param(
            True,
            "Weight the colour-bin loss by rarity (the paper's class rebalancing, λ = 0.5), so rare saturated "
            "colours are not drowned by the many greyish pixels (target=bins only).",
        )

    def __init__(self, params=None, **values):
        super().__init__(params, **values)
        self.prior: Tensor | None = None  # p̃ over the bins, from the dataset at ``setup`` (None: each batch's own)
        self._weights: Tensor | None = None

    def setup(self, data) -> None:
        """Estimate the colour prior p̃ from a fixed, seeded sample of the dataset's images (no labels read)."""
        images = getattr(data, "images", None)
        if images is None or self.params.target != "bins":
            return
        pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:PRIOR_SAMPLE]
        ab = rgb_to_lab(as_float_images(images[pick.sort().values]))[:, 1:]
        self.prior = colour_prior(bin_counts(ab_to_bins(ab, self.params.bins), self.params.bins), self.params.bins)
        self._weights = rebalancing_weights(self.prior, PRIOR_MIX, gamut_bins(self.params.bins))

    def class_weights(self, targets: Tensor) -> Tensor:
        """The rebalancing weight of every colour bin (ones when rebalancing is off); before ``setup`` (a
        preview, a FLOP count) the prior comes from these targets themselves."""
        if not self.params.rebalance:
            return torch.ones(self.params.bins**2, device=targets.device)
        if self._weights is None:
            prior = colour_prior(bin_counts(targets, self.params.bins).cpu(), self.params.bins)
            return rebalancing_weights(prior, PRIOR_MIX, gamut_bins(self.params.bins)).to(targets.device)
        if self._weights.device != targets.device:
            self._weights = self._weights.to(targets.device)
        return self._weights

    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        x = as_float_images(images)
        lab = rgb_to_lab(x)
        lightness, ab = lab[:, :1], lab[:, 1:]
        inputs = grey_from_lightness(lightness)  # the evaluation view "grey" is this, as uint8
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
            return weighted_classification_loss(out, batch.targets, self.class_weights(batch.targets))
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
