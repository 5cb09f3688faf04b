"""Invariants of every image pretext task: the pseudo-label really describes the input."""

import numpy as np
import pytest
import torch
from seeded import gen

from sslcore.color import AB_RANGE, lab_to_rgb, rgb_to_lab
from sslcore.errors import ConfigError
from sslcore.models import make_backbone
from sslcore.tasks import TASKS, get_task, list_tasks
from sslcore.tasks.jigsaw import min_hamming, permutation_set
from sslcore.tasks.relative_position import NEIGHBOURS

IMAGE_TASKS = [cls.name for cls in list_tasks("image")]  # text tasks: tests/test_text_tasks.py


def as_float(images):
    return images.float() / 255


# ------------------------------------------------------------------------------------------ rotation
@pytest.mark.parametrize("all_rotations", [True, False])
@pytest.mark.parametrize("angles", [2, 4])
def test_rotation_label_k_means_input_is_rot90_of_original(images, angles, all_rotations):
    task = get_task("rotation", {"angles": angles, "all_rotations": all_rotations})
    batch = task.prepare(images, gen())
    assert batch.targets.max() < angles
    for i in range(len(batch)):
        k = int(batch.extra["quarter_turns"][i])
        assert torch.equal(batch.inputs[i], torch.rot90(batch.originals[i], k, dims=(1, 2)))
    if all_rotations:
        assert len(batch) == angles * len(images)
        assert torch.bincount(batch.targets).tolist() == [len(images)] * angles


# -------------------------------------------------------------------------------------------- jigsaw
@pytest.mark.parametrize("grid", [2, 3])
def test_jigsaw_inverse_permutation_restores_image(images, grid):
    task = get_task("jigsaw", {"grid": grid, "gap": 0, "permutations": 20, "normalize_tiles": False})
    x = as_float(images[:, :, :30, :30]) if grid == 3 else as_float(images)
    batch = task.prepare(x, gen())
    b, t, c, s, _ = batch.inputs.shape
    order = batch.extra["order"]
    restored = torch.empty_like(batch.inputs)
    restored[torch.arange(b)[:, None], order] = batch.inputs  # slot i came from position order[i]
    image = restored.view(b, grid, grid, c, s, s).permute(0, 3, 1, 4, 2, 5).reshape(b, c, grid * s, grid * s)
    assert torch.equal(image, x)
    assert torch.equal(order, torch.as_tensor(task.perms())[batch.targets])


def test_jigsaw_permutation_set_is_distinct_and_well_separated():
    perms = permutation_set(9, 64)
    assert len({tuple(p) for p in perms}) == 64
    assert (np.sort(perms, axis=1) == np.arange(9)).all()
    assert min_hamming(perms) >= 5  # random sets of 64 typically reach only 2-3
    assert len(permutation_set(4, 100)) == 24  # capped at 4!


def test_jigsaw_gap_and_jitter_cut_tiles_from_their_cells(images):
    task = get_task("jigsaw", {"grid": 2, "gap": 4, "jitter": True, "normalize_tiles": False})
    batch = task.prepare(images, gen(3))
    tile, cell = 12, 16
    x = batch.originals
    for i in range(len(batch)):
        for slot in range(4):
            pos = int(batch.extra["order"][i, slot])
            oy, ox = batch.extra["offsets"][i, pos].tolist()
            top, left = (pos // 2) * cell + oy, (pos % 2) * cell + ox
            assert 0 <= oy <= 4 and 0 <= ox <= 4
            assert torch.equal(batch.inputs[i, slot], x[i, :, top : top + tile, left : left + tile])


def test_jigsaw_rejects_images_too_small_for_the_grid():
    with pytest.raises(ConfigError, match="too small"):
        get_task("jigsaw", {"grid": 3, "gap": 4}).prepare(torch.zeros(2, 3, 16, 16, dtype=torch.uint8), gen())


# ------------------------------------------------------------------------------- relative position
@pytest.mark.parametrize("gap,jitter", [(0, 0), (2, 1), (3, 2)])
def test_relative_position_label_matches_crop_offset(images, gap, jitter):
    task = get_task("relative_position", {"gap": gap, "jitter": jitter})
    batch = task.prepare(images, gen(1))
    p = task.patch_size(32)
    for i in range(len(batch)):
        (cy, cx), (ny, nx) = batch.extra["corners"][i].tolist()
        dy, dx = NEIGHBOURS[int(batch.targets[i])]
        step = p + gap
        assert abs((ny - cy) - dy * step) <= 2 * jitter and abs((nx - cx) - dx * step) <= 2 * jitter
        for corner, patch in (((cy, cx), batch.inputs[i, 0]), ((ny, nx), batch.inputs[i, 1])):
            y, x = corner
            assert torch.equal(patch, batch.originals[i, :, y : y + p, x : x + p])


def test_relative_position_color_dropping_keeps_one_channel(images):
    batch = get_task("relative_position", {"drop_color": True, "jitter": 0}).prepare(images, gen())
    plain = get_task("relative_position", {"drop_color": False, "jitter": 0}).prepare(images, gen())
    same = (batch.inputs == plain.inputs).all(dim=(3, 4))  # (B, 2, C): which channels survived untouched
    assert (same.sum(-1) >= 1).all()


# ------------------------------------------------------------------------------------- colorization
def test_lab_round_trip_and_reference_colours():
    rgb = torch.rand(4, 3, 8, 8, generator=gen())
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-3)
    white = rgb_to_lab(torch.ones(1, 3, 1, 1)).flatten()
    assert torch.allclose(white, torch.tensor([100.0, 0.0, 0.0]), atol=0.1)
    red = rgb_to_lab(torch.tensor([1.0, 0, 0]).view(1, 3, 1, 1)).flatten()
    assert torch.allclose(red, torch.tensor([53.24, 80.09, 67.20]), atol=0.5)  # standard sRGB red in Lab


def test_colorization_lightness_plus_target_reconstructs_image(images):
    task = get_task("colorization", {"target": "regress"})
    batch = task.prepare(images, gen())
    lightness = batch.inputs[:, :1] * 100
    rebuilt = lab_to_rgb(torch.cat([lightness, batch.targets * AB_RANGE], dim=1))
    assert (rebuilt - batch.originals).abs().max() < 2e-3
    assert torch.equal(batch.inputs[:, 0], batch.inputs[:, 1])  # the network sees no colour


def test_colorization_bins_reconstruct_within_a_bin(images):
    task = get_task("colorization", {"target": "bins", "bins": 16})
    batch = task.prepare(images, gen())
    assert batch.targets.dtype == torch.long and batch.targets.max() < 16**2
    rebuilt = task.target_colours(batch)
    assert (rebuilt - batch.originals).abs().mean() < 0.03


# -------------------------------------------------------------------------------- masking tasks
@pytest.mark.parametrize("region", ["center", "random"])
@pytest.mark.parametrize("size", [0.25, 0.5])
def test_inpainting_hides_exactly_the_stated_region(images, region, size):
    batch = get_task("inpainting", {"region": region, "size": size}).prepare(images, gen())
    mask = batch.extra["mask"]
    side = round(size * 32)
    assert (mask.sum(dim=(1, 2, 3)) == side * side).all()
    assert (batch.inputs[mask.expand_as(batch.inputs)] == 0.5).all()
    assert torch.equal(batch.inputs[~mask.expand_as(batch.inputs)], batch.originals[~mask.expand_as(batch.inputs)])
    if region == "center":
        assert mask[:, 0, 16, 16].all()


@pytest.mark.parametrize("ratio,patch", [(0.75, 4), (0.3, 8), (0.5, 2)])
def test_masked_image_hides_the_stated_fraction_of_patches(images, ratio, patch):
    batch = get_task("masked_image", {"mask_ratio": ratio, "patch": patch}).prepare(images, gen())
    grid = 32 // patch
    hidden = batch.extra["patch_mask"].flatten(1).sum(1)
    assert (hidden == round(ratio * grid * grid)).all()
    mask = batch.extra["mask"]
    assert (mask.float().mean(dim=(1, 2, 3)) == hidden / grid**2).all()
    visible = ~mask.expand_as(batch.inputs)
    assert torch.equal(batch.inputs[visible], batch.originals[visible])
    # masks differ between images (drawn per image)
    assert not all(torch.equal(batch.extra["patch_mask"][0], m) for m in batch.extra["patch_mask"][1:])


def test_masked_image_rejects_sizes_not_divisible_by_patch():
    with pytest.raises(ConfigError, match="multiple of the patch"):
        get_task("masked_image", {"patch": 8}).prepare(torch.zeros(1, 3, 36, 36, dtype=torch.uint8), gen())


# ----------------------------------------------------------------------------------------- views
@pytest.mark.parametrize("name", ["simclr", "simsiam"])
def test_views_of_one_image_differ_and_are_paired(name):
    colours = torch.tensor([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], dtype=torch.uint8)
    solid = colours.view(4, 3, 1, 1).expand(4, 3, 32, 32).contiguous()
    task = get_task(name, {"color_strength": 0.0, "grayscale_p": 0.0, "blur_p": 0.0})
    batch = task.prepare(solid, gen())
    n = len(solid)
    assert batch.inputs.shape == (2 * n, 3, 32, 32)
    mean_colour = batch.inputs.mean(dim=(2, 3))
    assert torch.allclose(mean_colour[:n], solid.float().mean(dim=(2, 3)) / 255, atol=1e-4)
    assert torch.allclose(mean_colour[n:], mean_colour[:n], atol=1e-4)


def test_simclr_views_use_per_image_random_parameters(images):
    batch = get_task("simclr").prepare(images, gen())
    n = len(images)
    assert not torch.equal(batch.inputs[:n], batch.inputs[n:])
    boxes = batch.extra["boxes"]
    assert len({tuple(b.round(decimals=4).tolist()) for b in boxes}) == 2 * n  # no two views share a crop
    assert ((boxes[:, :2] >= -1e-6) & (boxes[:, 2:] <= 1 + 1e-6)).all()


# --------------------------------------------------------------------------------- every task
@pytest.mark.parametrize("name", IMAGE_TASKS)
def test_same_seed_gives_same_batch_and_another_seed_differs(images, name):
    task = get_task(name)
    a, b, c = (task.prepare(images, gen(s)) for s in (7, 7, 8))
    assert torch.equal(a.inputs, b.inputs)
    if a.targets is not None:
        assert torch.equal(a.targets, b.targets)
    if name not in {"rotation", "colorization", "autoencoder", "inpainting"}:  # default params draw nothing
        assert not torch.equal(a.inputs, c.inputs) or not torch.equal(a.targets, c.targets)


@pytest.mark.parametrize("name", IMAGE_TASKS)
def test_head_and_loss_train_the_backbone(images, name):
    torch.manual_seed(0)
    task = get_task(name)
    backbone = make_backbone()
    head = task.head(backbone, 32)
    batch = task.prepare(images, gen())
    loss, metrics = task.loss(task.forward(backbone, head, batch), batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert task.metric in metrics and torch.isfinite(torch.as_tensor(metrics[task.metric]))
    loss.backward()
    assert backbone.layers[0][0].weight.grad.abs().sum() > 0
    items = task.explain(batch)
    assert len(items) == len(batch) and all(item.label for item in items)


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_carries_its_lesson(name):
    cls = TASKS[name]
    lesson = cls.teaching
    for text in (lesson.predicts, lesson.why, lesson.shortcuts, lesson.guard, lesson.paper):
        assert len(text) > 20
    assert any(str(year) in lesson.paper for year in range(2006, 2023))


def test_tasks_work_on_64px_and_on_the_device_of_the_input():
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    for name in IMAGE_TASKS:
        batch = get_task(name).prepare(x, gen())
        assert batch.inputs.device == x.device and batch.originals.shape[-1] == 64


def test_each_view_task_words_its_pair_as_its_method_does(images):
    """Issue 21 (7): SimSiam's preview said "the other 6 views in this batch are its negatives" beside its own
    "no negatives" lesson (Explore, and the Home card of one image). SimCLR has negatives; SimSiam has none, and
    says what keeps it from collapsing instead (the predictor and the stop-gradient)."""
    from sslcore.preview import image_card, preview_batch

    for name in ("simclr", "simsiam"):
        task = get_task(name)
        labels = [item.label for item in task.explain(preview_batch(task, images[:4], 0))]
        labels.append(image_card(name, images[:1])[1])  # the Home card: one image
        for label in labels:
            assert "positive pair" in label and "same image" in label
            if name == "simclr":
                assert "negatives" in label
            else:
                assert "negatives" not in label.replace("no negatives", ""), label
                assert "no negatives" in label and "predictor" in label and "stop-gradient" in label, label
