"""Results: each run's map of its test examples (t-SNE of the frozen features), small multiples, and the
selected example's nearest neighbours.

A finished run never changes, so its embedding and its map are made once per server (cached by its folder
and finish time) and shared read-only by every session; each map is a fragment (key ``map``), so selecting a
point redraws that map and its neighbours alone, not the page nor the other maps.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from sslcore import lab
from views.charts import embedding_map
from views.ui import builtin_corpus, run_dataset

CACHED_RUNS = 64  # two comparisons of a class's worth of runs; an embedding is ~0.5 MB


@st.cache_resource(max_entries=CACHED_RUNS, show_spinner=False)
def _embedding(run_dir: str, finished: float | None) -> dict:  # noqa: ARG001 - a cache key
    arrays = lab.load_embedding(Path(run_dir))
    for array in arrays.values():
        array.flags.writeable = False  # one copy serves every session: a slip that writes to it raises
    return arrays


def run_embedding(store, run) -> dict | lab.ArtifactError:
    """A finished run's embedding arrays (read-only: shared by all sessions), or the error that says why they
    cannot be read (an error is not cached: the next rerun tries again)."""
    try:
        return _embedding(str(store.run_dir(run.id)), run.finished)
    except lab.ArtifactError as err:
        return err


@st.cache_resource(max_entries=CACHED_RUNS, show_spinner=False)
def _map(run_dir: str, finished: float | None, classes: tuple[str, ...], title: str, legend: bool):
    """The map's figure, built once (plotly's validation is most of a map's cost); st.plotly_chart only
    reads it."""
    return embedding_map(_embedding(run_dir, finished), list(classes), title, legend)


def map_title(run, name: str) -> str:
    """A map is of the features a probe reads: a fine-tune's are its fine-tuned backbone's."""
    return f"{name} (its fine-tuned backbone's features)" if run.task == lab.FINETUNE else name


def maps_section(store, maps, names: dict[str, str]) -> None:
    """The small multiples of ``maps`` (runs), three a row; a selected point shows its neighbours below its map."""
    st.subheader("Maps of the test examples in each run's feature space")
    st.caption(
        "t-SNE of the frozen features, coloured by class. Select a point to see it (image or sentence) and its "
        "nearest neighbours."
    )
    columns = st.columns(min(3, len(maps)))
    for i, run in enumerate(maps):
        with columns[i % len(columns)]:
            map_panel(store, run, names[run.id], legend=i == 0)


@st.fragment(key="map")
def map_panel(store, run, name: str, legend: bool) -> None:
    """One run's map and, when a point of it is selected, that point's neighbours: a fragment of its own, so a
    selection redraws this map alone."""
    emb = run_embedding(store, run)
    if isinstance(emb, lab.ArtifactError):
        st.warning(f"{name}: {emb}")
        return
    classes = tuple(run.results_record.class_names or [])
    fig = _map(str(store.run_dir(run.id)), run.finished, classes, map_title(run, name), legend)
    event = st.plotly_chart(fig, key=f"map-{run.id}", on_select="rerun", selection_mode="points")
    points = (event.selection.points if event and event.selection else []) or []
    if points:
        data = points[0]["customdata"]
        show_neighbours(run, emb, int(data[0] if isinstance(data, list) else data))


def show_neighbours(run, emb, point: int) -> None:
    """The selected test example and its nearest neighbours in this run's feature space."""
    cfg = run.config
    picked = lab.neighbour_rows(emb, point)
    if cfg["dataset"] not in lab.DATASETS:
        st.caption("Examples of uploaded datasets are not kept; only built-in ones can be shown.")
    elif lab.dataset_modality(cfg["dataset"]) == "text":
        sentences = builtin_corpus().names
        lines = [f"**selected:** {sentences[picked[0]]}"] + [
            f"{j}. {sentences[k]}" for j, k in enumerate(picked[1:], 1)
        ]
        st.markdown("  \n".join(lines))
    else:
        images = run_dataset(cfg).images  # regenerated exactly as training loaded them (uploads are not kept)
        st.image(
            [lab.to_pil(images[k].float() / 255).resize((64, 64)) for k in picked],
            caption=["selected"] + [f"neighbour {j + 1}" for j in range(len(picked) - 1)],
        )
