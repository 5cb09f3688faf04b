"""Results: compare finished runs against the random-init baseline and the supervised reference."""

import io

import streamlit as st

from sslcore import lab
from views.budget import spent_table
from views.charts import embedding_map, probe_curves, word_map
from views.results_compare import accuracy_chart, pick_comparison, pretext_chart
from views.results_layers import layers_section
from views.results_learned import show_learned
from views.results_predict import predictions_section
from views.results_sweep import sweep_section
from views.ui import builtin_corpus, builtin_images, store_or_stop

st.title("📊 Results")
store = store_or_stop()
try:
    finished = store.list(status="succeeded", limit=200)
except lab.PretextLabError as err:
    st.error(f"The run store cannot be read right now: {err}", icon="🛑")
    st.stop()
if not finished:
    st.info("No finished runs yet. Start a comparison on the Train page.")
    st.page_link("views/train.py", label="Go to Train", icon="🏋️")
    st.stop()

default = pick_comparison(store, finished)
labels = lab.picker_labels(finished)
chosen_ids = st.multiselect(
    "Runs to compare (default: the comparison above)",
    list(labels),
    default,
    format_func=labels.get,
    key=f"runs-{st.session_state.get('comparison')}-{len(default)}",  # a run that ends joins the default
)
runs = [r for r in finished if r.id in chosen_ids]


@st.fragment(run_every=3)
def fills_in(group: str, shown: int) -> None:
    """While the comparison still has runs to come, say so, and rerun the page when one of them ends."""
    try:
        mine = store.list(group_id=group)
    except lab.PretextLabError:
        return
    if sum(r.status == "succeeded" for r in mine) != shown:
        st.rerun()
    if pending := sum(r.status in ("queued", "running") for r in mine):
        st.caption(f"⏳ {pending} more run{'s' * (pending != 1)} of this comparison to come: this page fills in as they end.")


group = st.session_state.get("comparison")
if group and any(r.status in ("queued", "running") for r in store.list(group_id=group)):
    fills_in(group, len(default))
if not runs:
    st.stop()
names = lab.run_labels(runs, {r.id: r for r in finished})  # every run's name on this page (sslcore.names)

# --- the lesson in words, above every chart --------------------------------------------------------------
for sentence in lab.comparison_lesson([{**r.results, "task": r.task} for r in runs]):
    st.info(sentence, icon="💡")
rows = lab.result_rows(runs, {r.id: r for r in finished})
if len({r.config.get("dataset") for r in runs}) > 1:
    st.warning(
        "These runs used different datasets: compare each with its own random-init baseline (in the CSV below).",
        icon="⚖️",
    )

# --- accuracy bars: every run, with the random-init baseline and the supervised reference -------------
st.subheader("Downstream accuracy of the frozen features")
accuracy_chart(runs, rows, names)
spent_table(runs, names)  # what each number rests on: steps, images seen, compute, time, test size, under budget
sweep_section(runs)  # one task over one knob: the sweep chart and its reading

left, right = st.columns(2)
curves = [(names[r.id], r.results_record) for r in runs if r.results_record and r.results_record.probe_curve]
left.plotly_chart(probe_curves(curves), key="curve")  # fine-tunes and random init probe nothing while they train
with right:
    pretext_chart(runs)

predictions_section(store, runs, names)

# --- 2-D maps as small multiples -------------------------------------------------------------------------
st.subheader("Maps of the test examples in each run's feature space")
st.caption(
    "t-SNE of the frozen features, coloured by class. Select a point to see it (image or sentence) and its "
    "nearest neighbours."
)


def dataset_images(name: str, n: int | None, size: int, seed: int):
    """The run's images, regenerated exactly as training loaded them (uploaded datasets are not kept)."""
    return builtin_images(name, n, size, seed)[0] if name in lab.DATASETS else None


def show_neighbours(run, emb, point: int) -> None:
    """The selected test example and its nearest neighbours in this run's feature space."""
    cfg = run.config
    picked = lab.neighbour_rows(emb, point)
    if cfg["dataset"] not in lab.DATASETS:
        st.caption("Examples of uploaded datasets are not kept; only built-in ones can be shown.")
    elif lab.dataset_modality(cfg["dataset"]) == "text":
        sentences = builtin_corpus().names
        lines = [f"**selected:** {sentences[picked[0]]}"] + [f"{j}. {sentences[k]}" for j, k in enumerate(picked[1:], 1)]
        st.markdown("  \n".join(lines))
    else:
        images = dataset_images(cfg["dataset"], cfg.get("n"), cfg["image_size"], cfg["seed"])
        st.image(
            [lab.to_pil(images[k].float() / 255).resize((64, 64)) for k in picked],
            caption=["selected"] + [f"neighbour {j + 1}" for j in range(len(picked) - 1)],
        )


def load_embedding(run) -> dict | lab.ArtifactError:
    """A run's embedding file, or the error that says why it cannot be read."""
    try:
        return lab.load_embedding(store.run_dir(run.id))
    except lab.ArtifactError as err:
        return err


def map_title(run) -> str:
    """A map is of the features a probe reads: a fine-tune's are its fine-tuned backbone's."""
    return f"{names[run.id]} (its fine-tuned backbone's features)" if run.task == lab.FINETUNE else names[run.id]


maps = [r for r in runs if r.task != lab.RANDOM_INIT] or runs
embeddings = {run.id: load_embedding(run) for run in maps}  # read once: maps, word vectors and downloads
columns = st.columns(min(3, len(maps)))
for i, run in enumerate(maps):
    with columns[i % len(columns)]:
        emb = embeddings[run.id]
        if isinstance(emb, lab.ArtifactError):
            st.warning(f"{names[run.id]}: {emb}")
            continue
        fig = embedding_map(emb, run.results_record.class_names or [], map_title(run), legend=i == 0)
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
            st.plotly_chart(word_map(emb, names[run.id]), key=f"words-{run.id}")
            words = emb["words"].tolist()
            word = st.selectbox("Nearest words to", words, key=f"word-{run.id}")
            near = emb["word_neighbours"][words.index(word)]
            st.markdown(", ".join(f"`{words[j]}`" for j in near))

layers_section(runs, names)  # the linear probe per backbone stage (views/results_layers.py)
show_learned(store, runs, finished)  # few labels, probe vs fine-tune, factor map (views/results_learned.py)

# --- downloads -----------------------------------------------------------------------------------------
st.subheader("Downloads")
st.download_button(
    "Results (CSV)", lab.results_csv(runs, {r.id: r for r in finished}), "pretext-lab-results.csv", "text/csv"
)
for run in maps:
    with st.expander(f"Files of {names[run.id]}"):
        st.caption(f"Run id {run.id}")  # the run's details line: its id stays out of its name
        try:
            emb = embeddings[run.id]
            if isinstance(emb, lab.ArtifactError):
                raise emb
            vectors, metadata = lab.projector_tsv(emb, run.results_record.class_names or [])
            weights = lab.weights_file(store.run_dir(run.id))
        except lab.ArtifactError as err:
            st.warning(str(err))
            continue
        st.caption("Open the two TSV files in the TensorFlow Embedding Projector (projector.tensorflow.org → Load).")
        a, b, c = st.columns(3)
        a.download_button("vectors.tsv", vectors, f"{run.id}-vectors.tsv", key=f"vec-{run.id}")
        b.download_button("metadata.tsv", metadata, f"{run.id}-metadata.tsv", key=f"meta-{run.id}")
        c.download_button("weights.safetensors", io.BytesIO(weights), f"{run.id}.safetensors", key=f"w-{run.id}")
