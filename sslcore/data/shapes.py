"""Procedural "shapes": a labelled image set that works offline and is built for self-supervision.

Every class has an upright orientation and none looks the same after a 90° or 180° turn, so "which way
is up?" (rotation prediction) is a well-posed question. (No star: a 5-pointed star turned 90° is the star
turned 18°, which the ±12° tilt would make ambiguous.) Colour, position, scale, texture and a small tilt
vary per image; they are nuisances that make raw pixels (and a random network) a poor classifier, while
features that capture shape do well. That gap is what the app's comparisons are meant to show.

Image ``i`` depends only on ``(seed, i)``, so ``make_shapes(100)`` is a prefix of ``make_shapes(1000)``.
The dataset records every factor it drew per image (``factors``): class aside, shape and background
colour, texture, position, scale and tilt, so probes can measure which of them a representation keeps,
and ``render_shape`` redraws any image from its record alone.
"""

import numpy as np
import torch
from PIL import Image, ImageDraw

from sslcore.data.dataset import Factor, ImageDataset
from sslcore.errors import ConfigError

MIN_SIZE = 16
SUPERSAMPLE = 4  # shapes are drawn at 4x and box-filtered down: clean antialiased edges at little cost
MAX_TILT_DEGREES = 12.0  # small enough that "upright" stays unambiguous
MIN_CONTRAST = 0.35  # least luminance gap between shape and background colours (0..1)

# --- geometry -----------------------------------------------------------------------------------------
# Shapes are lists of (polygon, fill) layers in a y-up frame; fill 0 punches a hole. They are normalised
# below so each shape's bounding box is centred on 0 with a half-extent of 1.


def _rect(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _ellipse(cx, cy, rx, ry, a0=0.0, a1=2 * np.pi, n=28):
    t = np.linspace(a0, a1, n)
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t), strict=True))


def _heart(n=40):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return list(zip(x, y, strict=True))


_SHAPES: dict[str, list[tuple[list, int]]] = {
    "arrow": [([(-0.8, 0.1), (0.8, 0.1), (0, 1)], 255), (_rect(-0.25, -1, 0.25, 0.12), 255)],
    "boat": [
        ([(-1, -0.45), (1, -0.45), (0.6, -0.95), (-0.6, -0.95)], 255),
        ([(0.1, -0.3), (0.1, 1), (0.85, -0.3)], 255),
        ([(-0.06, -0.3), (-0.06, 0.65), (-0.6, -0.3)], 255),
    ],
    "car": [
        (_rect(-1, -0.45, 1, 0.15), 255),
        ([(-0.6, 0.1), (0.45, 0.1), (0.25, 0.65), (-0.4, 0.65)], 255),
        (_ellipse(-0.55, -0.5, 0.27, 0.27), 255),
        (_ellipse(0.55, -0.5, 0.27, 0.27), 255),
    ],
    "cup": [
        (_ellipse(0.45, 0.05, 0.45, 0.45), 255),
        (_ellipse(0.45, 0.05, 0.22, 0.22), 0),
        ([(-0.7, 0.8), (0.4, 0.8), (0.25, -0.9), (-0.55, -0.9)], 255),
    ],
    "flag": [(_rect(-0.85, -1, -0.65, 1), 255), (_rect(-0.66, 0.15, 0.85, 0.95), 255)],
    "heart": [(_heart(), 255)],
    "house": [
        (_rect(0.35, 0.3, 0.6, 0.95), 255),  # chimney
        (_rect(-0.75, -0.95, 0.75, 0.15), 255),
        ([(-1, 0.1), (1, 0.1), (0, 0.95)], 255),
        (_rect(-0.2, -0.95, 0.2, -0.35), 0),  # door
    ],
    "letter_L": [(_rect(-0.6, -0.95, -0.15, 0.95), 255), (_rect(-0.6, -0.95, 0.65, -0.5), 255)],
    "letter_T": [(_rect(-0.85, 0.5, 0.85, 0.95), 255), (_rect(-0.22, -0.95, 0.22, 0.55), 255)],
    "mushroom": [(_ellipse(0, 0.05, 1, 0.85, 0, np.pi), 255), (_rect(-0.28, -1, 0.28, 0.08), 255)],
    "tree": [
        ([(-1, -0.5), (1, -0.5), (0, 0.25)], 255),
        ([(-0.78, -0.05), (0.78, -0.05), (0, 0.65)], 255),
        ([(-0.55, 0.38), (0.55, 0.38), (0, 1)], 255),
        (_rect(-0.16, -1, 0.16, -0.45), 255),
    ],
    "triangle": [([(-0.7, -1), (0.7, -1), (0, 1)], 255)],  # tall: far from 3-fold symmetric
}


def _normalise(layers):
    """Centre the shape's bounding box on 0 and scale its larger half-extent to 1 (y stays up)."""
    pts = np.concatenate([np.asarray(p, dtype=np.float64) for p, _ in layers])
    lo, hi = pts.min(0), pts.max(0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2
    return [((np.asarray(p, dtype=np.float64) - centre) / half, fill) for p, fill in layers]


SHAPE_LAYERS = {name: _normalise(layers) for name, layers in sorted(_SHAPES.items())}
CLASS_NAMES = list(SHAPE_LAYERS)


def render_mask(label: int, size: int, angle: float = 0.0, scale: float = 0.8, offset=(0.0, 0.0)) -> np.ndarray:
    """Coverage (0..1 float32, size×size) of one shape: ``angle`` in degrees (counter-clockwise),
    ``scale`` as a fraction of the frame, ``offset`` in pixels (x right, y down) from the centre.

    Exposed so tests and previews can draw a clean, nuisance-free shape.
    """
    layers = SHAPE_LAYERS[CLASS_NAMES[label]]
    big = size * SUPERSAMPLE
    theta = np.deg2rad(angle)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    half = scale * big / 2
    centre = np.array([big / 2 + offset[0] * SUPERSAMPLE, big / 2 + offset[1] * SUPERSAMPLE])
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    for pts, fill in layers:
        xy = pts @ rot.T * half
        xy[:, 1] = -xy[:, 1]  # y up -> image rows down
        xy += centre
        draw.polygon([tuple(p) for p in xy], fill=fill)
    return np.asarray(canvas.reduce(SUPERSAMPLE), dtype=np.float32) / 255.0


def _rotated_extent(label: int, angle: float) -> np.ndarray:
    """Half-extents (x, y) of the unit-scale shape after tilting, so placement keeps it inside the frame."""
    theta = np.deg2rad(angle)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    pts = np.concatenate([p for p, _ in SHAPE_LAYERS[CLASS_NAMES[label]]]) @ rot.T
    return np.abs(pts).max(0)


# --- nuisances ----------------------------------------------------------------------------------------

_LUMA = np.array([0.299, 0.587, 0.114])
TEXTURES = ("flat", "stripes", "checker", "noise", "gradient")


def _colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A foreground and background colour at least MIN_CONTRAST apart in luminance (shape stays visible)."""
    for _ in range(32):
        fg, bg = rng.random(3), rng.random(3)
        if abs(fg @ _LUMA - bg @ _LUMA) >= MIN_CONTRAST:
            return fg, bg
    dark = rng.random(3) * 0.25  # practically never reached; keeps the loop bounded
    return (dark, 1 - dark) if rng.random() < 0.5 else (1 - dark, dark)


def _draw_texture(rng: np.random.Generator, kind: str) -> list[float]:
    """The random numbers one texture needs, as 4 floats (phase angle, then per-kind values; 0 unused).

    stripes: period (in 32-px units) and phase; checker: cell (32-px units) and offsets (px); noise: the
    seed of its noise field; gradient: the direction only.
    """
    if kind == "flat":
        return [0.0, 0.0, 0.0, 0.0]
    phi = rng.uniform(0, np.pi)
    if kind == "stripes":
        period = rng.uniform(3, 9)
        return [phi, period, rng.uniform(0, 2 * np.pi), 0.0]
    if kind == "checker":
        cell = rng.uniform(2.5, 7)
        return [phi, cell, *rng.uniform(0, 2 * cell, 2)]  # offsets for a 32-px image; scaled with the size
    if kind == "noise":
        return [phi, float(rng.integers(2**31)), 0.0, 0.0]
    return [phi, 0.0, 0.0, 0.0]


def _texture(kind: str, params, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """A pattern in -0.5..0.5 over the image grid (pixel coordinates yy, xx), from ``_draw_texture``'s numbers."""
    size = yy.shape[0]
    phi, a, b, c = params
    if kind == "flat":
        return np.zeros_like(yy)
    if kind == "stripes":
        period = a * size / 32
        return 0.5 * np.sin(2 * np.pi * (xx * np.cos(phi) + yy * np.sin(phi)) / period + b)
    if kind == "checker":
        cell, ox, oy = a * size / 32, b * size / 32, c * size / 32
        return (((xx + ox) // cell + (yy + oy) // cell) % 2) - 0.5
    if kind == "noise":
        noise = np.random.default_rng(int(a)).random(yy.shape, dtype=np.float32)
        return (noise - 0.5).astype(yy.dtype)
    ramp = (xx * np.cos(2 * phi) + yy * np.sin(2 * phi)) / size  # gradient in any direction
    return ramp - ramp.mean()


def draw_factors(seed: int, index: int, size: int) -> dict:
    """Every random choice behind image ``index``: class, pose, colours and textures (plain numbers).

    ``render_shape(draw_factors(...), size)`` is the image; make_shapes records these per image.
    """
    rng = np.random.default_rng([seed, index])
    label = int(rng.integers(len(CLASS_NAMES)))
    angle = rng.uniform(-MAX_TILT_DEGREES, MAX_TILT_DEGREES)
    scale = rng.uniform(0.45, 0.92)
    ext = _rotated_extent(label, angle) * scale * size / 2  # half-extents in pixels
    room = np.maximum(size / 2 - ext - 0.5, 0)
    x, y = rng.uniform(-room, room)
    fg, bg = _colours(rng)
    fg_amp, bg_amp = rng.uniform(0, 0.2), rng.uniform(0, 0.3)
    fg_kind = int(rng.integers(len(TEXTURES)))
    fg_tex = _draw_texture(rng, TEXTURES[fg_kind])
    bg_kind = int(rng.integers(len(TEXTURES)))
    bg_tex = _draw_texture(rng, TEXTURES[bg_kind])
    return {
        "label": label,
        "tilt": angle,
        "scale": scale,
        "x": x,
        "y": y,
        "shape colour": fg,
        "background colour": bg,
        "texture amplitude": [fg_amp, bg_amp],
        "shape texture": fg_kind,
        "shape texture params": fg_tex,
        "background texture": bg_kind,
        "background texture params": bg_tex,
    }


def render_shape(f: dict, size: int, grid: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The uint8 (3, size, size) image drawn from one image's factors (as ``draw_factors`` gives them)."""
    if grid is None:
        grid = tuple(g.astype(np.float32) for g in np.mgrid[0:size, 0:size])
    alpha = render_mask(f["label"], size, f["tilt"], f["scale"], (f["x"], f["y"]))[None]
    fg, bg = np.asarray(f["shape colour"]), np.asarray(f["background colour"])
    yy, xx = grid
    fg_amp, bg_amp = f["texture amplitude"]
    fg_tex = _texture(TEXTURES[f["shape texture"]], f["shape texture params"], yy, xx) * fg_amp
    bg_tex = _texture(TEXTURES[f["background texture"]], f["background texture params"], yy, xx) * bg_amp
    image = alpha * (fg[:, None, None] + fg_tex) + (1 - alpha) * (bg[:, None, None] + bg_tex)
    return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)


# What a probe may try to read back from features (the rest is recorded only to redraw the image).
PROBED = {"shape colour", "background colour", "background texture", "x", "y", "scale", "tilt"}
CATEGORICAL = {"shape texture": TEXTURES, "background texture": TEXTURES}


def factors_of(records: list[dict]) -> dict[str, Factor]:
    """Columns of per-image factor records, as the dataset's generic ``factors`` (float64: exact redraws)."""
    out = {}
    for name in records[0] if records else []:
        if name == "label":
            continue
        column = [r[name] for r in records]
        if name in CATEGORICAL:
            out[name] = Factor(torch.tensor(column, dtype=torch.long), list(CATEGORICAL[name]), name in PROBED)
        else:
            out[name] = Factor(torch.tensor(np.asarray(column, dtype=np.float64)), None, name in PROBED)
    return out


def factor_record(labels: torch.Tensor, factors: dict[str, Factor], i: int) -> dict:
    """One image's factors back from the dataset's columns (what ``render_shape`` needs)."""
    record = {"label": int(labels[i])}
    for name, f in factors.items():
        value = f.values[i]
        record[name] = int(value) if f.categorical else (value.tolist() if value.ndim else float(value))
    return record


def make_shapes(n: int, size: int = 32, seed: int = 0) -> ImageDataset:
    """Generate ``n`` labelled shape images of ``size``×``size`` (deterministic in ``seed``, prefix-stable)."""
    if n < 0:
        raise ConfigError(f"shapes: n must be >= 0, got {n}")
    if size < MIN_SIZE:
        raise ConfigError(f"shapes: size must be at least {MIN_SIZE} pixels, got {size}")
    grid = tuple(g.astype(np.float32) for g in np.mgrid[0:size, 0:size])
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    records = [draw_factors(seed, i, size) for i in range(n)]
    for i, record in enumerate(records):
        images[i] = render_shape(record, size, grid)
    labels = np.array([r["label"] for r in records], dtype=np.int64)
    names = [f"shapes #{i} ({CLASS_NAMES[k]})" for i, k in enumerate(labels.tolist())]
    return ImageDataset(
        "shapes", torch.from_numpy(images), torch.from_numpy(labels), list(CLASS_NAMES), names, factors_of(records)
    )
