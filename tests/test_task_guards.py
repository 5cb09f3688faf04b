"""The papers' guards, as knobs whose defaults are the papers' (issue 20): colorization's class rebalancing and
annealed mean, jigsaw's per-tile normalisation, relative position's faint colour-drop noise, inpainting's random
region, masked image modelling's ratio and normalised targets."""

import pytest
import torch
from seeded import gen

from sslcore.data import load_dataset
from sslcore.losses import rebalancing_weights, weighted_classification_loss
from sslcore.sweeps import PRESETS
from sslcore.tasks import get_task
from sslcore.tasks.colorization import (
    ANNEAL_T,
    annealed_mean,
    bin_centres,
    bin_counts,
    colour_prior,
    gamut_bins,
)
from sslcore.tasks.jigsaw import normalise_tiles
from sslcore.tasks.relative_position import drop_colors


# ------------------------------------------------------------------------------------ rebalancing
def test_a_uniform_prior_gives_weights_of_one():
    assert torch.allclose(rebalancing_weights(torch.full((50,), 0.02)), torch.ones(50))


def test_rare_classes_weigh_more_and_the_prior_mean_is_one():
    prior = torch.tensor([0.7, 0.2, 0.09, 0.01])
    w = rebalancing_weights(prior)
    assert w[3] > w[2] > w[1] > w[0]
    assert torch.isclose((prior * w).sum(), torch.tensor(1.0), atol=1e-6)
    # the formula itself: w ∝ 1 / ((1 - λ) p + λ / Q)
    raw = 1 / (0.5 * prior + 0.5 / 4)
    assert torch.allclose(w, raw / (prior * raw).sum(), atol=1e-6)
    assert torch.allclose(rebalancing_weights(prior, mix=1.0), torch.ones(4), atol=1e-6)  # λ = 1: no rebalancing


def test_classes_outside_the_support_get_no_weight():
    support = torch.tensor([True, True, False])
    w = rebalancing_weights(torch.tensor([0.5, 0.5, 0.0]), support=support)
    assert torch.allclose(w, torch.tensor([1.0, 1.0, 0.0]))


def test_weighted_cross_entropy_is_plain_cross_entropy_with_unit_weights():
    logits, targets = torch.randn(6, 5, 4, 4, generator=gen()), torch.randint(0, 5, (6, 4, 4), generator=gen())
    plain = torch.nn.functional.cross_entropy(logits, targets)
    loss, metrics = weighted_classification_loss(logits, targets, torch.ones(5))
    assert torch.isclose(loss, plain) and 0 <= metrics["accuracy"] <= 1
    doubled, _ = weighted_classification_loss(logits, targets, torch.full((5,), 2.0))
    assert torch.isclose(doubled, 2 * plain)


def test_colorization_prior_is_smoothed_over_the_gamut_and_rebalances_by_default():
    counts = torch.zeros(11 * 11)
    counts[60] = 100  # all pixels grey: the neutral bin of an 11×11 grid
    prior = colour_prior(counts, 11)
    assert torch.isclose(prior.sum(), torch.tensor(1.0)) and prior.argmax() == 60
    assert (prior[~gamut_bins(11)] == 0).all()
    task = get_task("colorization")
    assert task.params.rebalance is True and task.params.target == "bins"
    task.setup(load_dataset("shapes", n=60, size=32))
    assert torch.isclose((task.prior * task._weights).sum(), torch.tensor(1.0), atol=1e-5)
    assert task._weights[60] < task._weights[gamut_bins(11)].max()  # grey is common in shapes: weighed down
    batch = task.prepare(load_dataset("shapes", n=4, size=32).images, gen())
    assert len(bin_counts(batch.targets, 11)) == 121
    off = get_task("colorization", {"rebalance": False})
    assert torch.equal(off.class_weights(batch.targets), torch.ones(121))


# ---------------------------------------------------------------------------------- annealed mean
def test_annealed_mean_is_the_mean_at_t1_and_the_mode_as_t_goes_to_0():
    centres = bin_centres(5)
    logits = torch.randn(2, 25, 3, 3, generator=gen()) * 3
    p = logits.softmax(1)
    mean = torch.einsum("bqhw,qc->bchw", p, centres)
    assert torch.allclose(annealed_mean(logits, centres, 1.0), mean, atol=1e-4)
    mode = centres[logits.argmax(1)].permute(0, 3, 1, 2)
    assert torch.allclose(annealed_mean(logits, centres, 1e-4), mode, atol=1e-3)
    assert ANNEAL_T == 0.38
    between = annealed_mean(logits, centres, ANNEAL_T)
    assert between.norm() > annealed_mean(logits, centres, 1.0).norm()  # more saturated than the mean


# ---------------------------------------------------------------------------------------- jigsaw
def test_jigsaw_tiles_are_normalised_one_by_one_by_default(images):
    task = get_task("jigsaw")
    assert task.params.normalize_tiles is True
    tiles = task.prepare(images, gen()).inputs
    assert torch.allclose(tiles.mean(dim=(2, 3, 4)), torch.zeros(tiles.shape[:2]), atol=1e-5)
    assert torch.allclose(tiles.std(dim=(2, 3, 4)), torch.ones(tiles.shape[:2]), atol=1e-2)
    raw = get_task("jigsaw", {"normalize_tiles": False}).prepare(images, gen()).inputs
    assert torch.allclose(tiles, normalise_tiles(raw), atol=1e-6)  # the same tiles, same draws
    assert raw.mean(dim=(2, 3, 4)).std() > 0.001  # unnormalised tiles differ in brightness


def test_a_flat_tile_stays_finite():
    flat = torch.full((1, 4, 3, 6, 6), 0.3)
    assert torch.equal(normalise_tiles(flat), torch.zeros_like(flat))


def test_the_tile_normalisation_preset_turns_it_off_and_on():
    p = PRESETS["jigsaw_tile_norm"]
    assert (p.task, p.knob, set(p.values), p.params) == ("jigsaw", "normalize_tiles", {False, True}, {})
    assert PRESETS["jigsaw_gap"].params["normalize_tiles"] is False  # as it was measured


# ----------------------------------------------------------------------------- relative position
def test_dropped_colours_are_replaced_by_noise_at_a_hundredth_of_the_kept_spread():
    assert get_task("relative_position").params.drop_noise == 0.01
    patches = torch.rand(200, 2, 3, 8, 8, generator=gen())
    dropped = drop_colors(patches, gen(1), 0.01)
    kept = (dropped == patches).all(dim=(3, 4))  # (B, 2, C) the channel left untouched
    assert (kept.sum(-1) == 1).all()
    kept_std = patches.std(dim=(3, 4))[kept].view(200, 2)
    noise_std = dropped.std(dim=(3, 4))[~kept].view(200, 2, 2)
    ratio = (noise_std / kept_std[..., None]).median()
    assert 0.007 < ratio < 0.013


# ------------------------------------------------------------------------------- masking defaults
def test_inpainting_hides_a_random_region_by_default(images):
    task = get_task("inpainting")
    assert task.params.region == "random"
    corners = task.prepare(images, gen()).extra["corner"]
    assert len({tuple(c) for c in corners.tolist()}) > 1


def test_masked_image_defaults_are_maes_and_it_says_it_is_simmim_style():
    task = get_task("masked_image")
    assert task.params.mask_ratio == 0.75 and task.params.norm_pix is True
    assert "SimMIM" in task.title and "SimMIM" in task.teaching.guard and "never sees" in task.teaching.guard


@pytest.mark.parametrize("norm_pix", [True, False])
def test_masked_image_psnr_is_measured_in_pixels(images, norm_pix):
    task = get_task("masked_image", {"norm_pix": norm_pix})
    batch = task.prepare(images, gen())
    perfect = batch.targets.clone()  # the right answer in the target's own space
    _, metrics = task.loss(perfect, batch)
    assert metrics["psnr"] > 40
