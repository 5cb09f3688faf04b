"""Explore: pick a task, tweak its knobs, and see exactly what the network is fed and must predict."""

import streamlit as st
import torch

from pages.ui import BUILTIN_SOURCES, UPLOAD, builtin_images, param_widget, show_preview, uploaded_images
from sslcore.errors import PretextLabError
from sslcore.tasks import TASKS, get_task, param_specs

st.title("🔍 Explore a pretext task")


def new_draw() -> None:
    st.session_state.seed = int(torch.randint(0, 2**31 - 1, (1,)))


with st.sidebar:
    name = st.selectbox("Pretext task", list(TASKS), format_func=lambda n: TASKS[n].title, key="task")
    cls = TASKS[name]
    st.caption(cls.summary)
    st.markdown("**Knobs**")
    values = {spec.name: param_widget(spec, spec.default, f"{name}.{spec.name}") for spec in param_specs(cls.Params)}
    st.divider()
    source = st.radio("Images", [*BUILTIN_SOURCES, UPLOAD], format_func=lambda s: BUILTIN_SOURCES.get(s, "Your own images"))
    size = st.select_slider("Image size (pixels)", [32, 64, 96, 128], value=64)
    count = st.slider("How many images", 1, 12, 4)
    st.session_state.setdefault("seed", 0)
    st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="seed")
    st.button("🎲 New random draw", width="stretch", on_click=new_draw)

if source == UPLOAD:
    files = st.file_uploader(
        "Upload images (PNG, JPEG, GIF, BMP, WEBP, TIFF) or a zip of them",
        type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff", "zip"],
        accept_multiple_files=True,
    )
    if not files:
        st.info("Upload a few images to see the task applied to them.")
        st.stop()
    images, names = uploaded_images(files, size)
    if images is None:
        st.stop()
    images = images[:count]
else:
    images, names = builtin_images(source, count, size, 0)

try:
    task = get_task(name, values)
    batch = task.prepare(images, torch.Generator().manual_seed(int(st.session_state.seed)))
except PretextLabError as err:
    st.error(str(err), icon="⚠️")
    st.stop()

lesson = cls.teaching
with st.expander(f"What {cls.title} teaches", expanded=True):
    st.markdown(
        f"**Predicts:** {lesson.predicts}\n\n**Why it helps:** {lesson.why}\n\n"
        f"**Shortcuts:** {lesson.shortcuts}\n\n**The guard:** {lesson.guard}\n\n*{lesson.paper}*"
    )
st.caption(f"{len(batch)} training examples from {len(images)} images · seed {st.session_state.seed}")
show_preview(task.explain(batch))
