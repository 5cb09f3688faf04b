"""Home: what self-supervised learning and pretext tasks are, a card per task, and a quick comparison."""

import streamlit as st

from sslcore import lab
from views.budget import quick_label
from views.owner import owner_or_ask
from views.ui import builtin_corpus, builtin_images, run_store, start_worker

st.title("🧩 Pretext Lab")
st.markdown(
    """
**Self-supervised learning** trains a network on images or text nobody has labelled. The trick is a
*pretext task*: a puzzle whose answer comes from the data itself — rotate an image and ask which way is
up, cut it into tiles and ask for the order, hide part of it and ask what was there, hide a word and ask
which word it was.

Solving the puzzle is not the goal. The goal is the **representation** the network builds along the way:
features that later make a *downstream task* (recognising objects, with only a few labels) easy. Here the
downstream test is simple: freeze the network, and see how well a linear classifier (a *linear probe*) or
a nearest-neighbour vote (*kNN*) recognises the classes from its features — compared with the same network
left at its **random initialisation**.

The design of the puzzle decides what is learned. **Too easy**, and the network finds a shortcut — an
edge that continues across tiles, a colour cast at the border — and learns nothing about objects.
**Too hard**, and it wastes its compute. Pretext Lab lets you see exactly what each task feeds the
network, train tasks against each other, and compare what they learned.
"""
)

# one under the other, each the page's full width: side by side, a narrow window cut both labels off
st.page_link("views/explore.py", label="Explore a pretext task on your own images or text →", icon="🔍")
if st.button("⚡ Quick comparison", type="primary") and (owner := owner_or_ask()):
    try:
        store = run_store()
        runs = lab.quick_runs()
        st.session_state.group, ids = store.submit_group(runs, owner=owner)
        # each fine-tune waits in the queue until its source run has ended (the store holds it back)
        for config in lab.quick_finetunes(runs, ids):
            store.submit(config, st.session_state.group, owner=owner)
        start_worker(just_queued=True)
    except lab.PretextLabError as err:
        st.error(f"Could not queue the runs: {err}", icon="🛑")
        st.stop()
    st.switch_page("views/train.py")
st.caption(f"About two minutes: {lab.quick_words()}; {quick_label(lab.QUICK_COMPUTE)}.")


@st.cache_data(max_entries=32, show_spinner=False)
def thumbnail(name: str):
    """The task's network input for one built-in shape: a live preview, made by the task's own make_batch."""
    return lab.image_card(name, builtin_images(lab.DEFAULT_DATASET["image"], 1, 64, 0)[0])


@st.cache_data(max_entries=8, show_spinner=False)
def text_thumbnail(name: str) -> str:
    """The same for a text task: one corpus sentence as the network gets it, marks and all."""
    return lab.text_card(name, builtin_corpus())


def open_in_explore(name: str) -> None:
    """Open Explore on this task (the URL carries it, so Explore reads its settings afresh)."""
    st.session_state.pop("_url_read", None)
    st.switch_page("views/explore.py", query_params={"task": name})


st.subheader("The tasks")
tasks = lab.list_tasks()
for row in range(0, len(tasks), 3):
    for col, cls in zip(st.columns(3), tasks[row : row + 3]):
        with col.container(border=True):
            if cls.modality == "text":
                st.markdown(f"**{cls.title}**  \n{cls.summary}")
                st.html(text_thumbnail(cls.name))
                st.caption(cls.teaching.paper)
            else:
                image, label = thumbnail(cls.name)
                pic, text = st.columns([1, 2])
                pic.image(image, caption=label)
                text.markdown(f"**{cls.title}**  \n{cls.summary}")
                text.caption(cls.teaching.paper)
            if st.button(f"Explore {cls.title} →", key=f"open-{cls.name}"):
                open_in_explore(cls.name)
