"""Home: what self-supervised learning and pretext tasks are, and one card per task."""

import streamlit as st

from sslcore.tasks import list_tasks

st.title("🧩 Pretext Lab")
st.markdown(
    """
**Self-supervised learning** trains a network on images nobody has labelled. The trick is a *pretext
task*: a puzzle whose answer comes from the data itself — rotate an image and ask which way is up, cut
it into tiles and ask for the order, hide part of it and ask what was there.

Solving the puzzle is not the goal. The goal is the **representation** the network builds along the way:
features that later make a *downstream task* (recognising objects, with only a few labels) easy.

The design of the puzzle decides what is learned. **Too easy**, and the network finds a shortcut — an
edge that continues across tiles, a colour cast at the border — and learns nothing about objects.
**Too hard**, and it wastes its compute. Pretext Lab lets you see exactly what each task feeds the
network, on built-in images or your own.
"""
)
st.page_link("pages/explore.py", label="Explore a pretext task on your own images →", icon="🔍")

st.subheader("The tasks")
tasks = list_tasks()
for row in range(0, len(tasks), 3):
    for col, cls in zip(st.columns(3), tasks[row : row + 3]):
        with col.container(border=True):
            st.markdown(f"**{cls.title}**  \n{cls.summary}")
            st.caption(cls.teaching.paper)
