"""Widgets shared by the pages. Not a page itself: app.py lists the pages explicitly."""

from __future__ import annotations

import streamlit as st
import torch

from sslcore.data import MAX_FILES, MAX_PIXELS, MAX_TOTAL_BYTES, load_dataset, load_uploads, load_zip
from sslcore.data.decode import MAX_UPLOAD_BYTES
from sslcore.paths import data_dir
from sslcore.preview import render_image
from sslcore.runs import RunStore, ensure_worker
from sslcore.tasks import PreviewItem
from sslcore.tasks.base import ParamSpec
from sslcore.train import device_name, resolve_device

BUILTIN_SOURCES = {
    "shapes": "Shapes (procedural, 10+ classes)",
    "digits": "Handwritten digits (scikit-learn)",
    "photos": "Sample photos (scikit-learn)",
}
UPLOAD = "upload"
MAX_UPLOAD_FILES = 64
UPLOAD_LIMITS = (
    f"Limits, checked on the server: {MAX_UPLOAD_BYTES // 2**20} MB and {MAX_PIXELS // 10**6} megapixels per "
    f"image, {MAX_UPLOAD_FILES} files at a time; a zip holds at most {MAX_FILES:,} images and "
    f"{MAX_TOTAL_BYTES // 2**20} MB. Uploads stay in your browser session: nobody else sees them."
)


def run_store() -> RunStore:
    return _store(str(data_dir()))


@st.cache_resource
def _store(path: str) -> RunStore:
    return RunStore(path)


def start_worker() -> dict:
    """Make sure a background worker serves the queue (checked at most every 20 s per server)."""
    return _ensure_worker(str(data_dir()))


@st.cache_resource(ttl=20, show_spinner=False)
def _ensure_worker(path: str) -> dict:
    return ensure_worker(path)


@st.cache_resource
def runs_device() -> str:
    return device_name(resolve_device("auto"))


@st.cache_data(show_spinner="Loading built-in images…", max_entries=16)
def builtin_images(name: str, n: int | None, size: int, seed: int) -> tuple[torch.Tensor, list[str]]:
    data = load_dataset(name, n=n, size=size, seed=seed)
    return data.images[:n], data.names[:n]


def param_widget(spec: ParamSpec, key: str):
    """One Streamlit control per task knob, built from the params dataclass: no per-task UI code.

    The value lives in session state under ``key`` (seeded with the default, or from the URL).
    """
    st.session_state.setdefault(key, spec.default)
    if spec.choices:
        return st.selectbox(spec.name, list(spec.choices), help=spec.help, key=key)
    if spec.type is bool:
        return st.toggle(spec.name, help=spec.help, key=key)
    if spec.type is int:
        return st.slider(spec.name, int(spec.min), int(spec.max), help=spec.help, key=key)
    if spec.type is float:
        step = 0.05 if spec.max <= 2 else 0.5
        return st.slider(spec.name, float(spec.min), float(spec.max), step=step, help=spec.help, key=key)
    return st.text_input(spec.name, help=spec.help, key=key)


def uploaded_images(files, size: int) -> tuple[torch.Tensor | None, list[str]]:
    """Decode uploads with the safe decoder; show one clear message per bad file; keep the good ones."""
    if len(files) > MAX_UPLOAD_FILES:
        st.warning(f"Only the first {MAX_UPLOAD_FILES} files are used ({len(files)} were uploaded).")
        files = files[:MAX_UPLOAD_FILES]
    singles, images, names, errors = [], [], [], []
    for f in files:  # size caps are enforced by the decoder (per image) and by load_zip (per archive)
        if f.name.lower().endswith(".zip"):
            try:
                data, errs = load_zip(f.getvalue(), f.name, size=size)
            except ValueError as err:
                errors.append(str(err))
                continue
            images.append(data.images)
            names += data.names
            errors += [str(e) for e in errs]
        else:
            singles.append((f.name, f.getvalue()))
    if singles:
        data, errs = load_uploads(singles, size=size)
        errors += [str(e) for e in errs]
        if data is not None:
            images.append(data.images)
            names += data.names
    for message in errors:
        st.error(message, icon="🚫")
    return (torch.cat(images) if images else None), names


def show_preview(items: list[PreviewItem], columns: int = 2, cell: int = 160) -> None:
    """The preview grid: each original beside what the network gets, the pseudo-label in words."""
    grid = st.columns(columns)
    for i, item in enumerate(items):
        with grid[i % columns].container(border=True):
            views = [item.original, *item.views]
            for col, view in zip(st.columns(len(views)), views):
                col.image(render_image(view, cell), caption=view.caption, width="stretch")
            st.markdown(f"**{item.label}**")
