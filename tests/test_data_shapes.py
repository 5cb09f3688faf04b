"""The procedural shapes set: deterministic, prefix-stable, balanced, and rotation is a well-posed question."""

import numpy as np
import pytest
import torch

from sslcore.data.dataset import ImageDataset
from sslcore.data.shapes import CLASS_NAMES, MAX_TILT_DEGREES, make_shapes, render_mask
from sslcore.errors import ConfigError


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.minimum(a, b).sum() / np.maximum(a, b).sum())


def test_dataset_contract():
    ds = make_shapes(40)
    assert isinstance(ds, ImageDataset)
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (40, 3, 32, 32)
    assert ds.labels.dtype == torch.int64 and ds.labels.shape == (40,)
    assert ds.labelled and ds.labels.min() >= 0 and ds.labels.max() < len(ds.class_names)
    assert ds.class_names == CLASS_NAMES and len(CLASS_NAMES) >= 10
    assert len(ds.names) == 40 and CLASS_NAMES[int(ds.labels[0])] in ds.names[0]


def test_deterministic_by_seed():
    a, b, c = make_shapes(30, seed=7), make_shapes(30, seed=7), make_shapes(30, seed=8)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)


def test_prefix_stable():
    small, big = make_shapes(25, seed=3), make_shapes(80, seed=3)
    assert torch.equal(small.images, big.images[:25])
    assert torch.equal(small.labels, big.labels[:25])


def test_classes_roughly_balanced():
    counts = torch.bincount(make_shapes(1200).labels, minlength=len(CLASS_NAMES))
    assert counts.min() >= 0.6 * counts.float().mean() and counts.max() <= 1.4 * counts.float().mean()


@pytest.mark.parametrize("size", [16, 64])
def test_other_sizes(size):
    ds = make_shapes(12, size=size)
    assert ds.images.shape == (12, 3, size, size) and ds.image_size == size


def test_rejects_bad_arguments():
    with pytest.raises(ConfigError):
        make_shapes(10, size=15)
    with pytest.raises(ConfigError):
        make_shapes(-1)
    assert len(make_shapes(0)) == 0


def test_nuisances_vary():
    ds = make_shapes(200)
    corners = ds.images[:, :, 0, 0].float()
    assert corners.std(0).min() > 30  # background colour varies in every channel
    per_image = ds.images.float().flatten(1).std(1)
    assert per_image.min() > 10  # every image has a visible shape on its background


def test_no_class_is_rotation_symmetric_or_a_rotated_other_class():
    """A shape turned 90/180/270° must look like neither itself upright nor any other class upright."""
    masks = [render_mask(k, 48) for k in range(len(CLASS_NAMES))]
    for a, mask in enumerate(masks):
        assert mask.max() == 1.0 and 0.1 < mask.mean() < 0.9
        for k in (1, 2, 3):
            turned = np.rot90(mask, k)
            for b, other in enumerate(masks):
                assert _iou(turned, other) < 0.8, (CLASS_NAMES[a], k, CLASS_NAMES[b])


def test_quarter_turns_stay_distinguishable_under_tilt():
    """No tilt within the jitter range makes a quarter-turned shape look like a tilted upright one."""
    tilts = (-MAX_TILT_DEGREES, -MAX_TILT_DEGREES / 2, 0.0, MAX_TILT_DEGREES / 2, MAX_TILT_DEGREES)
    for k in range(len(CLASS_NAMES)):
        masks = [render_mask(k, 48, angle=t) for t in tilts]
        worst = max(_iou(np.rot90(a, r), b) for a in masks for b in masks for r in (1, 2, 3))
        assert worst < 0.75, CLASS_NAMES[k]
