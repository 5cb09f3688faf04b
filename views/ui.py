"""Widgets shared by the pages. Not a page itself: app.py lists the pages explicitly."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import TYPE_CHECKING

import streamlit as st

from sslcore import lab

if TYPE_CHECKING:  # names for annotations only: nothing is imported when the page runs
    from sslcore.lab import ParamSpec, PreviewItem, RunStore, TextDataset, TextPreviewItem

UPLOAD_LIMITS = (
    f"Limits, checked on the server: {st.get_option('server.maxUploadSize')} MB per uploaded file (a zip "
    f"included), {lab.MAX_UPLOAD_BYTES // lab.MB} MB and {lab.MAX_PIXELS // 10**6} megapixels per image, "
    f"{lab.MAX_UPLOAD_FILES} files at a time; a zip holds at most {lab.MAX_FILES:,} images and "
    f"{lab.MAX_TOTAL_BYTES // lab.MB} MB unpacked. Uploads stay in your browser session: nobody else sees them."
)
TEXT_LIMITS = (
    f"UTF-8 text only, {lab.MAX_TEXT_BYTES // lab.MB} MB per file (checked on the server); at most "
    f"{lab.MAX_SENTENCES:,} sentences are used. A .txt separates paragraphs by blank lines; a .csv needs a 'text' "
    "column and may have a 'label' column (needed for training). Uploads stay in your browser session."
)


def run_store() -> RunStore:
    return _store(str(lab.data_dir()))


def store_or_stop() -> RunStore:
    """The run store, or a clear message and the end of this page when it cannot be opened."""
    try:
        return run_store()
    except lab.PretextLabError as err:
        st.error(f"The run store cannot be used right now: {err}", icon="🛑")
        st.stop()


@st.cache_resource
def _store(path: str) -> RunStore:
    return lab.RunStore(path)


def start_worker(just_queued: bool = False) -> dict:
    """Make sure a background worker serves the queue. Page loads check at most every 20 s per server; right
    after runs were queued the check is made at once, because a worker may have left idle a moment ago."""
    if just_queued:
        _ensure_worker.clear()
    return _ensure_worker(str(lab.data_dir()))


@st.cache_resource(ttl=20, show_spinner=False)
def _ensure_worker(path: str) -> dict:
    return lab.ensure_worker(path)


@st.cache_resource
def runs_device() -> str:
    return lab.device_name(lab.resolve_device("auto"))


@st.cache_data(show_spinner="Loading built-in images…", max_entries=16)
def builtin_images(name: str, n: int | None, size: int, seed: int):
    """(uint8 images, their names) of a built-in set, cached per server."""
    data = lab.load_dataset(name, n=n, size=size, seed=seed)
    return data.images[:n], data.names[:n]


def run_dataset(config: dict):
    """A finished run's built-in dataset, made exactly as its training loaded it
    (``sslcore.train.load_run_data``), for its predictions and neighbours."""
    cfg = lab.TrainConfig.from_dict(config)
    return _run_dataset(cfg.dataset, cfg.n, cfg.image_size, cfg.seed, cfg.seq_len)


@st.cache_resource(max_entries=4, show_spinner="Loading the run's dataset…")
def _run_dataset(name: str, n: int | None, size: int, seed: int, seq_len: int):
    """Shared read-only by the sessions: the runs of a comparison share one dataset, which takes longer to
    make (shapes are drawn) than a prediction does."""
    return lab.load_dataset(name, n=n, size=size, seed=seed, seq_len=seq_len)


@st.cache_resource(show_spinner="Reading the bundled corpus…")
def builtin_corpus() -> TextDataset:
    return lab.load_dataset(lab.DEFAULT_DATASET["text"])


@st.cache_resource(max_entries=16, show_spinner="Reading your text…")
def _text_dataset(raw: tuple[tuple[str, bytes], ...]):
    """Keyed by the files' bytes: a knob change does not re-tokenize, and only the same text finds it."""
    return lab.load_text_uploads(list(raw))


def uploaded_text(files, pasted: str | None) -> TextDataset | None:
    """A text dataset from uploads or pasted text; one clear message per bad file, the good ones kept."""
    raw = [(f.name, f.getvalue()) for f in files[: lab.MAX_UPLOAD_FILES]]
    if pasted:
        raw.append(("pasted text.txt", pasted[: lab.MAX_PASTE_CHARS].encode()))
    data, errors = _text_dataset(tuple(raw))
    for message in lab.summarize_errors(errors):
        st.error(message.replace("pasted text.txt", "The pasted text"), icon="🚫")
    for note in data.notes if data else []:
        st.info(note)
    return data


def shapes_size_input(container, label: str, disabled: bool, key: str | None = None) -> int:
    """How many built-in shapes to train on (Train's form and its sweep form share the range and step)."""
    return container.number_input(
        label, lab.MIN_SHAPES_N, lab.MAX_SHAPES_N, lab.DEFAULT_SHAPES_N, step=lab.SHAPES_N_STEP, key=key, disabled=disabled
    )


def param_widget(spec: ParamSpec, key: str):
    """One Streamlit control per task knob, built from the params dataclass: no per-task UI code.

    The value lives in session state under ``key`` (seeded with the default, or from the URL).
    """
    st.session_state.setdefault(key, spec.default)
    if spec.choices:
        return st.selectbox(spec.name, list(spec.choices), help=spec.help, key=key)
    if spec.type is bool:
        return st.toggle(spec.name, help=spec.help, key=key)
    if spec.type in (int, float):
        number = spec.type
        low, high = (None if bound is None else number(bound) for bound in (spec.min, spec.max))
        step, fmt = (1, "%d") if number is int else float_step(spec)
        if low is None or high is None:  # param() may leave a knob open-ended: a number box (a slider needs both ends)
            return st.number_input(spec.name, min_value=low, max_value=high, step=step, format=fmt, help=spec.help, key=key)
        return st.slider(spec.name, low, high, step=step, format=fmt, help=spec.help, key=key)
    return st.text_input(spec.name, help=spec.help, key=key)


def float_step(spec: ParamSpec) -> tuple[float, str]:
    """A slider step and display format fine enough for the default, the range and every number in the help
    (skip-gram's subsample 0.001, SimCLR's temperatures 0.1 and 0.5, the 0.08 crop of the paper)."""
    numbers = [x for x in (spec.default, spec.min, spec.max) if x is not None]
    numbers += [float(x) for x in re.findall(r"\d*\.\d+", spec.help or "")]
    decimals = max(-Decimal(repr(float(x))).normalize().as_tuple().exponent for x in numbers)
    decimals = min(4, max(2, decimals))
    return 10.0**-decimals, f"%.{decimals}f"


def uploaded_images(files, size: int):
    """Decode uploads with the safe decoder; show one clear message per bad file; keep the good ones.
    Returns (uint8 images or None, their names)."""
    if len(files) > lab.MAX_UPLOAD_FILES:
        st.warning(f"Only the first {lab.MAX_UPLOAD_FILES} files are used ({len(files)} were uploaded).")
        files = files[: lab.MAX_UPLOAD_FILES]
    images, names, errors = lab.decode_uploads([(f.name, f.getvalue()) for f in files], size)
    for message in lab.summarize_errors(errors):  # a zip of thousands of bad files: ten messages, not thousands
        st.error(message, icon="🚫")
    return images, names


def show_preview(items: list[PreviewItem] | list[TextPreviewItem], columns: int = 2, cell: int = 160) -> None:
    """The preview grid: each original beside what the network gets, the pseudo-label in words."""
    if items and isinstance(items[0], lab.TextPreviewItem):
        show_text_preview(items)
        return
    grid = st.columns(columns)
    for i, item in enumerate(items):
        with grid[i % columns].container(border=True):
            views = [item.original, *item.views]
            for col, view in zip(st.columns(len(views)), views):
                col.image(lab.render_image(view, cell), caption=view.caption, width="stretch")
            st.markdown(f"**{item.label}**")


def show_text_preview(items: list[TextPreviewItem]) -> None:
    """Each sentence, then the tokens the network gets with what the task did to them marked inline."""
    st.html(lab.text_legend_html(items))
    for item in items:
        with st.container(border=True):
            st.html(f"<div style='color:#555'>{html.escape(item.original)}</div>")
            for view in item.views:
                st.html(f"<div style='color:#777;font-size:0.8em'>{html.escape(view.caption)}</div>{lab.text_view_html(view)}")
            st.html(f"<b>{html.escape(item.label)}</b>")
