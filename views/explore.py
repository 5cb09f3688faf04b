"""Explore: pick a task, tweak its knobs, and see exactly what the network is fed and must predict."""

import streamlit as st
import torch

from sslcore.errors import ConfigError, PretextLabError
from sslcore.tasks import TASKS, get_task, make_params, param_specs
from views.ui import BUILTIN_SOURCES, UPLOAD, UPLOAD_LIMITS, builtin_images, param_widget, show_preview, uploaded_images

SIZES = [32, 64, 96, 128]
MAX_COUNT = 12
SOURCES = [*BUILTIN_SOURCES, UPLOAD]

st.title("🔍 Explore a pretext task")


def settings_from_url() -> list[str]:
    """Seed the widgets from the URL once per session, so a copied link opens the same view.

    Every value is checked; anything unknown or out of range is ignored with a note, never trusted.
    """
    if st.session_state.get("_url_read"):
        return []
    st.session_state._url_read = True
    query, notes = st.query_params, []
    task = query.get("task", "rotation")
    if task not in TASKS:
        notes.append(f"unknown task {task!r} in the link")
        task = "rotation"
    st.session_state.task = task
    if query.get("source") in SOURCES:
        st.session_state.source = query["source"]
    for key, allowed in (("size", SIZES), ("count", range(1, MAX_COUNT + 1)), ("seed", range(0, 2**31))):
        if key in query:
            try:
                value = int(query[key])
                if value not in allowed:
                    raise ValueError
                st.session_state[key] = value
            except ValueError:
                notes.append(f"ignored {key}={query[key]!r} from the link")
    for spec in param_specs(TASKS[task].Params):
        if spec.name in query:
            try:
                value = getattr(make_params(TASKS[task].Params, {spec.name: query[spec.name]}), spec.name)
                st.session_state[f"{task}.{spec.name}"] = value
            except ConfigError as err:
                notes.append(f"ignored from the link: {err}")
    return notes


url_notes = settings_from_url()


def new_draw() -> None:
    st.session_state.seed = int(torch.randint(0, 2**31 - 1, (1,)))


with st.sidebar:
    name = st.selectbox("Pretext task", list(TASKS), format_func=lambda n: TASKS[n].title, key="task")
    cls = TASKS[name]
    st.caption(cls.summary)
    st.markdown("**Knobs**")
    specs = param_specs(cls.Params)
    values = {spec.name: param_widget(spec, f"{name}.{spec.name}") for spec in specs}
    st.divider()
    source = st.radio("Images", SOURCES, format_func=lambda s: BUILTIN_SOURCES.get(s, "Your own images"), key="source")
    st.session_state.setdefault("size", 64)
    size = st.select_slider("Image size (pixels)", SIZES, key="size")
    st.session_state.setdefault("count", 4)
    count = st.slider("How many images", 1, MAX_COUNT, key="count")
    st.session_state.setdefault("seed", 0)
    st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="seed")
    st.button("🎲 New random draw", width="stretch", on_click=new_draw)

for note in url_notes:
    st.warning(note, icon="🔗")
changed = {spec.name: str(values[spec.name]) for spec in specs if values[spec.name] != spec.default}
st.query_params.from_dict(
    {"task": name, "source": source, "size": size, "count": count, "seed": st.session_state.seed, **changed}
)

if source == UPLOAD:
    files = st.file_uploader(
        "Upload images (PNG, JPEG, GIF, BMP, WEBP, TIFF) or a zip of them",
        type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff", "zip"],
        accept_multiple_files=True,
        help=UPLOAD_LIMITS,
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
