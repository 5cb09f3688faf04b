"""Explore: pick a task, tweak its knobs, and see exactly what the network is fed and must predict."""

import random

import streamlit as st

from sslcore import lab
from views.custom_query import custom_query, settings_from_custom_query
from views.query import MAX_COUNT, SIZES, query_from_settings, sources_for
from views.task_builder import builder_sidebar
from views.ui import (
    TEXT_LIMITS,
    UPLOAD_LIMITS,
    builtin_corpus,
    builtin_images,
    param_widget,
    show_preview,
    uploaded_images,
    uploaded_text,
)

MODALITY_ICON = {"image": "🖼️", "text": "🔤"}
POOL = 96  # built-in images a draw picks from
SAMPLE_TEXT = (
    "The bakery opens before dawn. Its ovens have been warming since four, and the first loaves go in at five.\n\n"
    "Comets spend most of their lives far from the Sun. When one comes closer, its ice turns to gas and a tail appears."
)

st.title("🔍 Explore a pretext task")


def settings_from_url() -> list[str]:
    """Seed the widgets from the URL once per session, so a copied link opens the same view."""
    if st.session_state.get("_url_read"):
        return []
    st.session_state._url_read = True
    settings, notes = settings_from_custom_query(st.query_params)
    st.session_state.update(settings)
    return notes


url_source = st.query_params.get("source") if not st.session_state.get("_url_read") else None
url_notes = settings_from_url()
url_source = st.session_state.setdefault("_url_source", url_source)


def new_draw() -> None:
    st.session_state.seed = random.randrange(lab.MAX_SEED)


with st.sidebar:
    tasks = {**lab.TASKS, lab.CUSTOM: lab.CustomTask}
    name = st.selectbox(
        "Pretext task", list(tasks), format_func=lambda n: f"{MODALITY_ICON[tasks[n].modality]} {tasks[n].title}", key="task"
    )
    cls = tasks[name]
    text_task = cls.modality == "text"
    st.caption(cls.summary)
    if name == lab.CUSTOM:
        st.markdown("**Your design**")
        values = builder_sidebar()
    else:
        st.markdown("**Knobs**")
        specs = lab.param_specs(cls.Params)
        values = {spec.name: param_widget(spec, f"{name}.{spec.name}") for spec in specs}
    st.divider()
    sources = sources_for(name)
    source = st.radio(
        "Text" if text_task else "Images",
        list(sources),
        format_func=sources.get,
        key="text_source" if text_task else "source",
    )
    st.session_state.setdefault("size", 64)
    # always drawn (disabled for text): a widget left out of one run loses its value, and comes back at another
    # value than the URL's and the preview's
    size = st.select_slider(
        "Image size (pixels)",
        SIZES,
        key="size",
        disabled=text_task,
        help="Text tasks have no image size; it is kept for the next image task." if text_task else None,
    )
    st.session_state.setdefault("count", 4)
    count = st.slider("How many sentences" if text_task else "How many images", 1, MAX_COUNT, key="count")
    st.session_state.setdefault("seed", 0)
    st.number_input("Seed", min_value=0, max_value=lab.MAX_SEED, step=1, key="seed")
    st.button("🎲 New random draw", width="stretch", on_click=new_draw)

for note in url_notes:
    st.warning(note, icon="🔗")
seed = int(st.session_state.seed)
if name != lab.CUSTOM:
    st.query_params.from_dict(query_from_settings(name, source, size, count, seed, values))
elif values is None:  # the design has an error (shown in the sidebar): nothing to preview
    st.stop()
else:
    st.query_params.from_dict(custom_query(lab.parse_definition(values["definition"]), source, size, count, seed))


def text_rows():
    """Token rows to preview: random sentences of the corpus (by seed), or the person's own text."""
    if source in lab.BUILTIN_DATASETS:
        data = builtin_corpus()
        return data, lab.preview_rows(len(data), count, seed)
    if source == lab.PASTE:
        pasted = st.text_area(
            "Your text (paragraphs separated by a blank line)", SAMPLE_TEXT, height=160, max_chars=lab.MAX_PASTE_CHARS
        )
        data = uploaded_text([], pasted) if pasted.strip() else None
        if data is None:
            st.info("Type or paste a few sentences to see the task applied to them.")
    else:
        files = st.file_uploader(
            "Upload .txt or .csv files", type=["txt", "csv"], accept_multiple_files=True, help=TEXT_LIMITS
        )
        data = uploaded_text(files, None) if files else None
        st.caption("🔗 Your text stays in this browser session: a link to this view opens without it.")
        if not files:
            st.info("Upload a .txt (paragraphs separated by blank lines) or a .csv with a 'text' column.")
    if data is None:
        st.stop()
    return data, lab.preview_rows(len(data), count)


def image_batch():
    if source != lab.UPLOAD:
        pool = builtin_images(source, POOL, size, 0)[0]  # a new seed draws other images from the same pool
        return pool[lab.preview_rows(len(pool), count, seed)]
    files = st.file_uploader(
        "Upload images (PNG, JPEG, GIF, BMP, WEBP, TIFF) or a zip of them",
        # SVG, PDF and HEIC are let through so the decoder can say by name why they cannot be used
        type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff", "zip", "svg", "pdf", "heic"],
        accept_multiple_files=True,
        help=UPLOAD_LIMITS,
    )
    st.caption(
        "🔗 Your images stay in this browser session: a link to this view opens with no images for whoever "
        "receives it (they upload their own, or pick built-in images)."
    )
    if not files:
        if url_source == lab.UPLOAD:
            st.info(
                "This link was made on someone's own images, which are not shared. Upload a few images of yours "
                "to see the view."
            )
        else:
            st.info("Upload a few images to see the task applied to them.")
        st.stop()
    images, _ = uploaded_images(files, size)
    if images is None:
        st.stop()
    return images[:count]


try:
    task = lab.get_task(name, values)
    if text_task:
        data, rows = text_rows()
        task.setup(data)
        batch, shown = lab.preview_batch(task, data.tokens[rows], seed), lab.plural(len(rows), "sentence")
    else:
        images = image_batch()
        batch, shown = lab.preview_batch(task, images, seed), lab.plural(len(images), "image")
except lab.PretextLabError as err:
    st.error(str(err), icon="⚠️")
    st.stop()

lesson = task.lesson()  # a custom task's lesson is written from its design
with st.expander(f"What {task.title} teaches", expanded=True):
    st.markdown(
        f"**Predicts:** {lesson.predicts}\n\n**Why it helps:** {lesson.why}\n\n"
        f"**Shortcuts:** {lesson.shortcuts}\n\n**The guard:** {lesson.guard}\n\n*{lesson.paper}*"
    )
st.caption(f"{len(batch)} training examples from {shown} · seed {seed}")
show_preview(task.explain(batch))
