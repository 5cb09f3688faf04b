"""Results: compare finished runs against the random-init baseline and the supervised reference."""

import io

import plotly.graph_objects as go
import streamlit as st

from sslcore import artifacts
from sslcore.artifacts import ArtifactError
from sslcore.data import DATASETS, dataset_modality
from sslcore.errors import PretextLabError
from sslcore.preview import to_pil
from sslcore.report import CLASS_COLOURS, projector_tsv, result_row, results_csv, run_label
from views.budget import spent_table
from views.results_compare import accuracy_chart, pick_comparison, pretext_chart
from views.results_learned import show_learned
from views.results_predict import predictions_section
from views.results_sweep import sweep_section
from views.ui import builtin_corpus, builtin_images, store_or_stop

st.title("📊 Results")
store = store_or_stop()
try:
    finished = store.list(status="succeeded", limit=200)
except PretextLabError as err:
    st.error(f"The run store cannot be read right now: {err}", icon="🛑")
    st.stop()
if not finished:
    st.info("No finished runs yet. Start a comparison on the Train page.")
    st.page_link("views/train.py", label="Go to Train", icon="🏋️")
    st.stop()

default = pick_comparison(store, finished)
labels = {r.id: run_label(r) for r in finished}
chosen_ids = st.multiselect(
    "Runs to compare (default: the comparison above)",
    list(labels),
    default,
    format_func=labels.get,
    key=f"runs-{st.session_state.get('comparison')}",
)
runs = [r for r in finished if r.id in chosen_ids]
if not runs:
    st.stop()
rows = [result_row(r) for r in runs]
if len({r.config.get("dataset") for r in runs}) > 1:
    st.warning(
        "These runs used different datasets: compare each with its own random-init baseline (in the CSV below).",
        icon="⚖️",
    )

# --- accuracy bars: every run, with the random-init baseline and the supervised reference -------------
st.subheader("Downstream accuracy of the frozen features")
accuracy_chart(runs, rows)
spent_table(runs)  # what each number rests on: steps, images seen, compute, time, test size, under budget
sweep_section(runs)  # one task over one knob: the sweep chart and its reading

left, right = st.columns(2)
curve = go.Figure()
for r in runs:
    points = r.results.get("probe_curve", [])
    curve.add_trace(go.Scatter(x=[p["elapsed"] for p in points], y=[100 * p["knn"] for p in points], name=r.task))
curve.update_layout(
    title="Downstream kNN accuracy during training",
    xaxis_title="training seconds",
    yaxis_title="kNN accuracy (%)",
    height=340,
)
left.plotly_chart(curve, key="curve")
with right:
    pretext_chart(runs)

predictions_section(store, runs)

# --- 2-D maps as small multiples -------------------------------------------------------------------------
st.subheader("Maps of the test examples in each run's feature space")
st.caption(
    "t-SNE of the frozen features, coloured by class. Select a point to see it (image or sentence) and its "
    "nearest neighbours."
)


def dataset_images(name: str, n: int | None, size: int, seed: int):
    """The run's images, regenerated exactly as training loaded them (uploaded datasets are not kept)."""
    return builtin_images(name, n, size, seed)[0] if name in DATASETS else None


def show_neighbours(run, emb, point: int) -> None:
    """The selected test example and its nearest neighbours in this run's feature space."""
    cfg = run.config
    picked = [int(emb["indices"][point])] + [int(emb["indices"][j]) for j in emb["neighbours"][point]]
    if cfg["dataset"] not in DATASETS:
        st.caption("Examples of uploaded datasets are not kept; only built-in ones can be shown.")
    elif dataset_modality(cfg["dataset"]) == "text":
        sentences = builtin_corpus().names
        lines = [f"**selected:** {sentences[picked[0]]}"] + [f"{j}. {sentences[k]}" for j, k in enumerate(picked[1:], 1)]
        st.markdown("  \n".join(lines))
    else:
        images = dataset_images(cfg["dataset"], cfg.get("n"), cfg["image_size"], cfg["seed"])
        st.image(
            [to_pil(images[k].float() / 255).resize((64, 64)) for k in picked],
            caption=["selected"] + [f"neighbour {j + 1}" for j in range(len(picked) - 1)],
        )


def load_embedding(run) -> dict | ArtifactError:
    """A run's embedding file, or the error that says why it cannot be read."""
    try:
        return artifacts.load_embedding(store.run_dir(run.id))
    except ArtifactError as err:
        return err


maps = [r for r in runs if r.task != "random_init"] or runs
embeddings = {run.id: load_embedding(run) for run in maps}  # read once: maps, word vectors and downloads
columns = st.columns(min(3, len(maps)))
for i, run in enumerate(maps):
    with columns[i % len(columns)]:
        emb = embeddings[run.id]
        if isinstance(emb, ArtifactError):
            st.warning(f"{run.task}: {emb}")
            continue
        classes = run.results.get("class_names", [])
        fig = go.Figure()
        for label in sorted(set(emb["labels"].tolist())):
            mask = emb["labels"] == label
            fig.add_trace(
                go.Scattergl(
                    x=emb["coords"][mask, 0],
                    y=emb["coords"][mask, 1],
                    mode="markers",
                    marker=dict(size=5, color=CLASS_COLOURS[label % len(CLASS_COLOURS)]),
                    name=classes[label] if label < len(classes) else str(label),
                    customdata=mask.nonzero()[0],
                )
            )
        fig.update_layout(title=run.task, height=360, margin=dict(l=5, r=5, t=30, b=5), showlegend=i == 0)
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        event = st.plotly_chart(fig, key=f"map-{run.id}", on_select="rerun", selection_mode="points")
        points = (event.selection.points if event and event.selection else []) or []
        if points:
            point = int(
                points[0]["customdata"][0] if isinstance(points[0]["customdata"], list) else points[0]["customdata"]
            )
            show_neighbours(run, emb, point)

# --- word vectors (text runs on the bundled corpus) ------------------------------------------------------
word_runs = [(run, emb) for run in maps if isinstance(emb := embeddings[run.id], dict) and "words" in emb]
if word_runs:
    st.subheader("Word vectors: the embedding table each text run learned")
    st.caption(
        "t-SNE of the 400 most frequent words after the 40 commonest (the, of, and…), from each run's embedding "
        "table. Skip-gram trains nothing else; MLM and ELECTRA train it along with the Transformer."
    )
    columns = st.columns(min(2, len(word_runs)))
    for i, (run, emb) in enumerate(word_runs):
        with columns[i % len(columns)]:
            words, coords = emb["words"].tolist(), emb["word_coords"]
            shown = min(120, len(words))  # labels on the most frequent; hover for the rest
            fig = go.Figure(
                go.Scattergl(
                    x=coords[:, 0],
                    y=coords[:, 1],
                    mode="markers",
                    marker=dict(size=4, color="#88CCEE"),
                    text=words,
                    hoverinfo="text",
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=coords[:shown, 0], y=coords[:shown, 1], mode="text", text=words[:shown], textfont=dict(size=10)
                )
            )
            fig.update_layout(title=run_label(run), height=420, margin=dict(l=5, r=5, t=30, b=5), showlegend=False)
            fig.update_xaxes(visible=False)
            fig.update_yaxes(visible=False)
            st.plotly_chart(fig, key=f"words-{run.id}")
            word = st.selectbox("Nearest words to", words, key=f"word-{run.id}")
            near = emb["word_neighbours"][words.index(word)]
            st.markdown(", ".join(f"`{words[j]}`" for j in near))

show_learned(store, runs, finished)  # few labels, probe vs fine-tune, factor map (views/results_learned.py)

# --- downloads -----------------------------------------------------------------------------------------
st.subheader("Downloads")
st.download_button("Results (CSV)", results_csv(runs), "pretext-lab-results.csv", "text/csv")
for run in maps:
    with st.expander(f"Files of {run_label(run)}"):
        try:
            emb = embeddings[run.id]
            if isinstance(emb, ArtifactError):
                raise emb
            vectors, metadata = projector_tsv(emb, run.results.get("class_names", []))
            weights = (store.run_dir(run.id) / artifacts.WEIGHTS).read_bytes()
        except (ArtifactError, OSError) as err:
            st.warning(str(err))
            continue
        st.caption("Open the two TSV files in the TensorFlow Embedding Projector (projector.tensorflow.org → Load).")
        a, b, c = st.columns(3)
        a.download_button("vectors.tsv", vectors, f"{run.id}-vectors.tsv", key=f"vec-{run.id}")
        b.download_button("metadata.tsv", metadata, f"{run.id}-metadata.tsv", key=f"meta-{run.id}")
        c.download_button("weights.safetensors", io.BytesIO(weights), f"{run.id}.safetensors", key=f"w-{run.id}")
