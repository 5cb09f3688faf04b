"""Results, "What did it learn?": accuracy with few labels, probe vs fine-tune, and which factors runs keep.

Called from views/results.py; the rows come from sslcore.learned, so the charts and the CSV agree.
"""

import functools

import streamlit as st

from sslcore import lab
from views.charts import factor_figure, few_label_figure, finetune_figure
from views.owner import owner_or_ask
from views.ui import start_worker


def few_label_chart(runs, everything) -> None:
    metric = st.segmented_control(
        "Read out with", ["linear_probe", "knn"], format_func={"linear_probe": "linear probe", "knn": "kNN"}.get,
        default="linear_probe", key="learned-metric",
    ) or "linear_probe"
    rows = lab.curve_rows(runs, everything, metric)
    if not rows:
        st.info("These runs have no few-label curve (they finished before it existed): train them again.")
        return
    st.plotly_chart(few_label_figure(rows, lab.ceiling(runs, metric)), key="learned-curve")
    test = rows[0]["test_size"]
    scratch = [r["labels_per_class"] for r in rows if r["run"] == lab.SCRATCH]
    dashed = (
        f"the same network trained on {lab.labels_words(None if scratch[0] == lab.ALL else scratch[0])} alone, with "
        "the fine-tune recipe: measured at that k only (the dot), drawn across as a reference"
        if len(scratch) == 1
        else "the same network trained on those k labels alone, with the fine-tune recipe"
    )
    st.caption(
        f"Probe and kNN: frozen features, k labelled training examples per class, the median of several draws "
        f"(bars: their spread); test split {test}. The dashed black line is {dashed}."
    )
    if not any(r["run"] == lab.SCRATCH for r in rows):
        st.caption("No supervised-from-scratch runs yet: queue them with the fine-tunes below.")
    st.markdown(
        "**Lesson.** Where a task's line lies above the dashed line, its features beat learning from those few "
        "labels alone; that is why self-supervision is used. As labels grow the lines meet, and past the "
        "crossing point plain supervision is the better use of compute."
    )


def finetune_bars(store, runs, everything) -> None:
    sources = [r for r in runs if lab.is_source(r) and r.task != lab.SUPERVISED]
    ks = lab.finetune_ks(runs, everything)
    left, right = st.columns([1, 2])
    choices = lab.k_choices([*ks, *lab.LABELS_PER_CLASS[1:3]])
    k = left.selectbox("Labels per class", choices, index=choices.index(10) if 10 in choices else 0, key="learned-k")
    rows = lab.bar_rows(runs, everything, k)  # what is shown below; queueing adds no finished run to it
    missing = [r for r in sources if k not in lab.finetunes_of(r.id, everything)]
    scratch_missing = not any(row["run"] == lab.SCRATCH for row in rows)
    todo = len(missing) + scratch_missing
    queue = f"Queue {lab.plural(todo, 'fine-tune')} at k = {k} ({lab.DRAWS} label draws each)"
    if todo and right.button(queue) and (owner := owner_or_ask()):
        try:
            scratch_from = sources[0].config if scratch_missing and sources else None
            configs = lab.finetune_configs([(r.config, r.id) for r in missing], scratch_from, k)
            for config in configs:
                store.submit(config, owner=owner)
            start_worker(just_queued=True)
        except lab.PretextLabError as err:
            st.error(f"Could not queue the fine-tunes: {err}", icon="🛑")
        else:
            st.success(f"Queued {lab.plural(len(configs), 'fine-tune')}: the Train page shows them; come back when they finish.")
    if not any(r["finetune"] is not None for r in rows):
        st.info(f"No fine-tunes at k = {k} yet for these runs.")
        return
    st.plotly_chart(finetune_figure(rows, k), key="learned-bars")
    steps = sorted({r["steps"] for r in rows if r["steps"] is not None})
    draws = sorted({r["draws"] for r in rows if r.get("draws")})
    st.caption(
        f"Fine-tunes: one recipe for all (LP-FT: the head starts as the probe; {', '.join(map(str, steps))} steps "
        f"per draw). Both bars are medians over the same {'/'.join(map(str, draws))} label draws, error bars their "
        f"spread; test split {rows[0]['test_size']}."
    )
    st.markdown(
        "**Lesson.** A probe reads the features as they are; fine-tuning lets a few labels reshape them. Tasks "
        "that reconstruct pixels or words often probe poorly yet fine-tune well, so judge them by both bars."
    )


def factor_map(runs) -> None:
    names, rows = lab.factor_rows(runs)
    if not rows:
        st.info("Factor probes need a dataset that records its factors (shapes, the corpus, a CSV's text).")
        return
    st.plotly_chart(factor_figure(names, rows), key="learned-factors")
    base = rows[0]["scores"]
    st.caption(
        "Each cell: how well a linear read-out of the frozen features predicts that factor on the test split "
        "(accuracy for kinds, R² for numbers; the number shown), coloured by the change against random init "
        f"({', '.join(f'{n} {v:.2f}' for n, v in base.items())})."
    )
    st.markdown(
        "**Lesson.** Blue in the class column and red in colour and texture means a task learned objects and "
        "let nuisances go; blue in colour or texture means it kept low-level statistics, which a pixel-level "
        "task is expected to do, and raw pixels show how much of each factor is there for the taking."
    )


def show_learned(store, runs, everything) -> None:
    """The whole section, for the runs being compared (``everything``: all finished runs, for fine-tunes)."""
    st.subheader("What did it learn?")
    st.caption(
        "One number per run hides why self-supervision is used: it pays off when labels are few, features are "
        "meant to be fine-tuned, and a good task keeps what matters (the object) over nuisances (colour, "
        "position)."
    )
    st.markdown("##### Accuracy against labels per class")
    few_label_chart(runs, everything)
    st.markdown("##### Frozen probe or fine-tuned, at a chosen number of labels")
    finetune_bars(store, runs, everything)
    st.markdown("##### Which factors of the data each representation keeps")
    factor_map(runs)
    st.download_button(  # made on the click
        "What did it learn? (CSV)",
        functools.partial(lab.learned_csv, runs, everything),
        "pretext-lab-what-it-learned.csv",
        "text/csv",
        on_click="ignore",
    )
