"""Render a task's preview (originals, network inputs, pseudo-labels): a picture, or marked-up text.

The same ``PreviewItem`` list feeds the app's grid and this renderer, so the CLI's PNG and the browser
show the same thing.
"""

import html
import textwrap

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from sslcore.tasks.base import PretextTask, PreviewImage, PreviewItem, TextPreviewItem, TextView, Token

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


# ---------------------------------------------------------------------------------------------- text
TOKEN_MARKS = {  # mark -> (legend text, background, text colour); Paul Tol's colour-blind-safe palette
    "masked": ("replaced by [MASK]; the hidden word is under it", "#CC6677", "#ffffff"),
    "random": ("replaced by a random token (10%)", "#DDCC77", "#000000"),
    "kept": ("chosen but left unchanged (10%)", "#88CCEE", "#000000"),
    "replaced": ("replaced by a sampled token: label 1", "#CC6677", "#ffffff"),
    "centre": ("centre word", "#332288", "#ffffff"),
    "context": ("context word to predict", "#88CCEE", "#000000"),
    "segment_a": ("segment A", "#FFF3C4", "#000000"),
    "segment_b": ("segment B", "#D5F0EB", "#000000"),
}


def _token_text(token: Token) -> str:
    if token.mark in (None, "segment_a", "segment_b"):
        return token.text
    return f"{token.text}⟨{token.note or token.mark}⟩"


def text_preview_lines(items: list[TextPreviewItem]) -> list[str]:
    """Plain text for a terminal: each marked token is followed by ⟨what is under it⟩."""
    lines = []
    for item in items:
        lines.append(f"original: {item.original}")
        for view in item.views:
            lines.append(f"{view.caption}: {' '.join(_token_text(t) for t in view.tokens)}")
        lines += [f"label: {item.label}", ""]
    return lines


def text_view_html(view: TextView) -> str:
    """Tokens inline; marked ones coloured, with the hidden word or the note underneath.

    Each marked token and its note form one column as wide as the wider of the two, so notes ("was X")
    sit under their own token and never run into the next one."""
    parts = []
    for token in view.tokens:
        text = html.escape(token.text)
        if token.mark is None:
            parts.append(f'<span style="padding:0 2px">{text}</span>')
            continue
        _, background, colour = TOKEN_MARKS[token.mark]
        style = f"background:{background};color:{colour};border-radius:4px;padding:1px 4px"
        note = (
            f"<span style='font-size:0.75em;color:#444;white-space:nowrap'>{html.escape(token.note)}</span>"
            if token.note
            else ""
        )
        parts.append(
            '<span style="display:inline-flex;flex-direction:column;align-items:center;vertical-align:top;'
            f'margin:0 3px"><span style="{style}">{text}</span>{note}</span>'
        )
    return f'<div style="line-height:1.9;font-family:monospace;font-size:0.95em">{" ".join(parts)}</div>'


def text_legend_html(items: list[TextPreviewItem]) -> str:
    used = dict.fromkeys(t.mark for item in items for view in item.views for t in view.tokens if t.mark)
    chips = [
        f'<span style="background:{TOKEN_MARKS[m][1]};color:{TOKEN_MARKS[m][2]};border-radius:4px;padding:1px 6px;'
        f'margin-right:8px">{html.escape(TOKEN_MARKS[m][0])}</span>'
        for m in used
    ]
    return f'<div style="font-size:0.85em;line-height:2">{"".join(chips)}</div>'


def text_preview_html(task: PretextTask, items: list[TextPreviewItem]) -> str:
    """A standalone HTML page of a text preview (the CLI's ``--out preview.html``)."""
    body = [f"<h2>{html.escape(task.title)}</h2><p>{html.escape(params_text(task))}</p>", text_legend_html(items)]
    for item in items:
        body.append(f"<hr><p style='color:#555'>{html.escape(item.original)}</p>")
        for view in item.views:
            body.append(f"<p style='margin:0;color:#777'>{html.escape(view.caption)}</p>{text_view_html(view)}")
        body.append(f"<p><b>{html.escape(item.label)}</b></p>")
    return f"<!doctype html><meta charset='utf-8'><title>{html.escape(task.title)}</title>{''.join(body)}"


# ------------------------------------------------------------------------------------ what previews pick
def preview_rows(n: int, count: int, seed: int | None = None) -> torch.Tensor:
    """Which of ``n`` examples a preview shows: ``count`` drawn by ``seed`` (the same seed, the same examples),
    or the first ``count`` when there is no seed (the person's own text, in its order)."""
    if seed is None:
        return torch.arange(min(count, n))
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:count]


def preview_batch(task: PretextTask, inputs: torch.Tensor, seed: int):
    """What the network is fed from ``inputs``: the task's own ``prepare``, as in training, drawn by ``seed``."""
    return task.prepare(inputs, torch.Generator().manual_seed(seed))


def image_card(name: str, images: torch.Tensor, cell: int = CELL) -> tuple[Image.Image, str]:
    """A task's card picture: its network input for one image (the last view of its preview: rotation shows
    270°, not 0°) and that view's pseudo-label, made by the task's own ``make_batch``."""
    from sslcore.tasks import get_task

    task = get_task(name)
    item = task.explain(preview_batch(task, images, 0))[-1]
    return render_image(item.views[0], cell), item.label


def text_card(name: str, corpus, row: int = 8, draws: int = 50) -> str:
    """A text task's card: one corpus sentence as the network gets it, marks and all (HTML). The first draw
    that shows what the task does is used ([MASK] is random: one sentence can come out with none)."""
    from sslcore.tasks import get_task

    task = get_task(name)
    task.setup(corpus)
    for draw in range(1, draws):
        item = task.explain(preview_batch(task, corpus.tokens[row : row + 1], draw))[0]
        if shows_the_task(item.views[0]):
            break
    return text_view_html(item.views[0])


def shows_the_task(view: TextView) -> bool:
    """Whether a text view shows the task's work: a [MASK], a replaced token, a centre word, two segments."""
    return bool({t.mark for t in view.tokens} - {None, "kept", "random"})
