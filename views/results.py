"""Results: compare finished runs against the random-init baseline and the supervised reference."""

import functools

import streamlit as st

from sslcore import lab
from views.budget import spent_table
from views.charts import probe_curves, word_map
from views.results_compare import accuracy_chart, pick_comparison, pretext_chart
from views.results_layers import layers_section
from views.results_learned import show_learned
from views.results_maps import maps_section, run_embedding
from views.results_predict import predictions_section
from views.results_sweep import sweep_section
from views.ui import store_or_stop

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

# --- 2-D maps as small multiples (each a fragment: selecting a point reruns its map alone) --------------
maps = [r for r in runs if r.task != lab.RANDOM_INIT] or runs
maps_section(store, maps, names)

# --- word vectors (text runs on the bundled corpus) ------------------------------------------------------
word_runs = [(run, emb) for run in maps if isinstance(emb := run_embedding(store, run), dict) and "words" in emb]
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

# --- downloads: made when asked (the files are read and formatted on the click, not on every rerun) ------
st.subheader("Downloads")
st.download_button(
    "Results (CSV)",
    functools.partial(lab.results_csv, runs, {r.id: r for r in finished}),
    "pretext-lab-results.csv",
    "text/csv",
    on_click="ignore",
)
for run in maps:
    with st.expander(f"Files of {names[run.id]}"):
        st.caption(f"Run id {run.id}")  # the run's details line: its id stays out of its name
        try:
            emb = run_embedding(store, run)
            if isinstance(emb, lab.ArtifactError):
                raise emb
            lab.weights_path(store.run_dir(run.id))  # there now: its bytes are read on the click
        except lab.ArtifactError as err:
            st.warning(str(err))
            continue
        st.caption("Open the two TSV files in the TensorFlow Embedding Projector (projector.tensorflow.org → Load).")
        tsv = functools.partial(lab.projector_tsv, emb, run.results_record.class_names or [])
        weights = functools.partial(lab.weights_file, store.run_dir(run.id))
        a, b, c = st.columns(3)
        a.download_button(
            "vectors.tsv", lambda tsv=tsv: tsv()[0], f"{run.id}-vectors.tsv", key=f"vec-{run.id}", on_click="ignore"
        )
        b.download_button(
            "metadata.tsv", lambda tsv=tsv: tsv()[1], f"{run.id}-metadata.tsv", key=f"meta-{run.id}", on_click="ignore"
        )
        c.download_button("weights.safetensors", weights, f"{run.id}.safetensors", key=f"w-{run.id}", on_click="ignore")
