"""Render a task's preview (originals, network inputs, pseudo-labels) as one picture.

The same ``PreviewItem`` list feeds the app's grid and this renderer, so the CLI's PNG and the browser
show the same thing.
"""

import textwrap

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from sslcore.tasks.base import PretextTask, PreviewImage, PreviewItem

CELL = 128  # pixels per image in the rendered sheet
PAD = 8
BG = (250, 250, 250)
INK = (30, 30, 30)
MUTED = (110, 110, 110)


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) float in [0, 1] -> PIL RGB."""
    array = (image.detach().float().clamp(0, 1).cpu().permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(array, "RGB")


def render_image(view: PreviewImage, cell: int = CELL) -> Image.Image:
    """Upscale with nearest neighbour (pixels stay visible: 32×32 is what the network sees) and outline boxes."""
    pil = to_pil(view.image)
    scale = max(1, cell // max(pil.size))
    pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    draw = ImageDraw.Draw(pil)
    for box in view.boxes:
        draw.rectangle(
            [box.x0 * scale, box.y0 * scale, (box.x1 + 1) * scale - 1, (box.y1 + 1) * scale - 1],
            outline=box.color,
            width=max(2, scale // 2),
        )
    return pil


def _plain(text: str) -> str:
    """Pillow's built-in font lacks a few typographic glyphs; keep the sheet readable without shipping fonts."""
    return text.replace("→", "->").replace("—", "-").replace("…", "...")


def params_text(task: PretextTask) -> str:
    return ", ".join(f"{k}={v}" for k, v in vars(task.params).items())


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size only
        return ImageFont.load_default()


def render_preview(task: PretextTask, items: list[PreviewItem], cell: int = CELL) -> Image.Image:
    """One row per item: the original, then each network input, captions beneath, the label in words."""
    title_font, font, small = _font(18), _font(14), _font(12)
    columns = 1 + max((len(item.views) for item in items), default=0)
    width = max(PAD + columns * (cell + PAD), 560)
    label_chars = max(30, width // 8)
    rows = []
    for item in items:
        images = [item.original, *item.views]
        label = textwrap.wrap(_plain(item.label), label_chars)
        height = cell + 34 + 16 * len(label) + PAD
        rows.append((images, label, height))
    title = textwrap.wrap(_plain(f"{task.title} — {params_text(task)}"), width // 10)
    header = PAD + 22 * len(title) + 4
    total = header + sum(h for _, _, h in rows) + PAD
    sheet = Image.new("RGB", (width, total), BG)
    draw = ImageDraw.Draw(sheet)
    for i, line in enumerate(title):
        draw.text((PAD, PAD + 22 * i), line, fill=INK, font=title_font)
    y = header
    for images, label, height in rows:
        for col, view in enumerate(images):
            pil = render_image(view, cell)
            x = PAD + col * (cell + PAD)
            sheet.paste(pil, (x + (cell - pil.width) // 2, y + (cell - pil.height) // 2))
            for i, line in enumerate(textwrap.wrap(_plain(view.caption), cell // 6)[:2]):
                draw.text((x, y + cell + 2 + 14 * i), line, fill=MUTED, font=small)
        for i, line in enumerate(label):
            draw.text((PAD, y + cell + 34 + 16 * i), line, fill=INK, font=font)
        y += height
    return sheet
