"""Results, "What did it learn?": accuracy with few labels, probe vs fine-tune, and which factors runs keep.

Called from views/results.py; the rows come from sslcore.learned, so the charts and the CSV agree.
"""

import plotly.graph_objects as go
import streamlit as st

from sslcore.errors import PretextLabError
from sslcore.fewlabel import ALL, LABELS_PER_CLASS
from sslcore.finetune import DEFAULT_BUDGET_S, SCRATCH, finetune_config
from sslcore.learned import (
    bar_rows,
    ceiling,
    curve_rows,
    factor_rows,
    finetune_ks,
    finetunes_of,
    is_source,
    learned_csv,
)
from sslcore.train import SUPERVISED
from views.owner import me
from views.ui import start_worker

LINE_COLOURS = ["#332288", "#117733", "#44AA99", "#88CCEE", "#DDCC77", "#CC6677", "#AA4499", "#882255", "#999933"]


def _x(k, rows) -> float:
    """Where k sits on the log axis: "all" just right of the largest k (it is labelled, not to scale)."""
    if k != ALL:
        return float(k)
    return 2.5 * max([float(r["labels_per_class"]) for r in rows if r["labels_per_class"] != ALL] or [25.0])


def few_label_chart(runs, everything) -> None:
    metric = st.segmented_control(
        "Read out with", ["linear_probe", "knn"], format_func={"linear_probe": "linear probe", "knn": "kNN"}.get,
        default="linear_probe", key="learned-metric",
    ) or "linear_probe"
    rows = curve_rows(runs, everything, metric)
    if not rows:
        st.info("These runs have no few-label curve (they finished before it existed): train them again.")
        return
    fig = go.Figure()
    names = list(dict.fromkeys(r["run"] for r in rows))
    for i, name in enumerate(names):
        own = [r for r in rows if r["run"] == name]
        scratch, base = name == SCRATCH, name == "random init"
        own.sort(key=lambda r: _x(r["labels_per_class"], rows))
        fig.add_trace(
            go.Scatter(
                x=[_x(r["labels_per_class"], rows) for r in own],
                y=[100 * r["value"] for r in own],
                error_y=None if scratch else dict(type="data", array=[100 * (r["spread"] or 0) for r in own]),
                name=f"{name} (fine-tuned on k)" if scratch else name,
                mode="lines+markers",
                line=dict(
                    color="black" if scratch else "#999999" if base else LINE_COLOURS[i % len(LINE_COLOURS)],
                    dash="dash" if scratch else "dot" if base else "solid",
                    width=3 if scratch else 2,
                ),
            )
        )
    top = ceiling(runs)
    if top:
        fig.add_hline(
            y=100 * top["value"], line_dash="dot", line_color="#CC6677",
            annotation_text="supervised on all labels (ceiling)", annotation_position="top left",
        )
    ticks = sorted({_x(r["labels_per_class"], rows) for r in rows})
    labels = {_x(r["labels_per_class"], rows): str(r["labels_per_class"]) for r in rows}
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[labels[t] for t in ticks], title="labels per class (log)")
    fig.update_layout(yaxis_title="test accuracy (%)", height=420, margin=dict(t=20))
    st.plotly_chart(fig, key="learned-curve")
    test = rows[0]["test_size"]
    st.caption(
        f"Probe and kNN: frozen features, k labelled training examples per class, the median of several draws "
        f"(bars: their spread); test split {test}. The dashed black line trains the same network on those k "
        "labels alone, with the fine-tune recipe."
    )
    if not any(r["run"] == SCRATCH for r in rows):
        st.caption("No supervised-from-scratch runs yet: queue them with the fine-tunes below.")
    st.markdown(
        "**Lesson.** Where a task's line lies above the dashed line, its features beat learning from those few "
        "labels alone; that is why self-supervision is used. As labels grow the lines meet, and past the "
        "crossing point plain supervision is the better use of compute."
    )


def finetune_bars(store, runs, everything) -> None:
    sources = [r for r in runs if is_source(r) and r.task != SUPERVISED]
    ks = finetune_ks(runs, everything)
    left, right = st.columns([1, 2])
    choices = list(dict.fromkeys([*ks, *LABELS_PER_CLASS[1:3]]))
    k = left.selectbox("Labels per class", choices, index=choices.index(10) if 10 in choices else 0, key="learned-k")
    missing = [r for r in sources if k not in finetunes_of(r.id, everything)]
    scratch_missing = not any(row["run"] == SCRATCH for row in bar_rows(runs, everything, k))
    todo = len(missing) + scratch_missing
    if todo and right.button(f"Queue {todo} fine-tune{'s' * (todo > 1)} at k = {k} ({DEFAULT_BUDGET_S:g} s each)"):
        try:
            configs = [finetune_config(r.config, r.id, k) for r in missing]
            if scratch_missing and sources:
                configs.append(finetune_config(sources[0].config, None, k))
            for config in configs:
                store.submit(config, owner=me())
            start_worker(just_queued=True)
        except PretextLabError as err:
            st.error(f"Could not queue the fine-tunes: {err}", icon="🛑")
        else:
            st.success(f"Queued {len(configs)} fine-tunes: the Train page shows them; come back when they finish.")
    rows = bar_rows(runs, everything, k)
    if not any(r["finetune"] is not None for r in rows):
        st.info(f"No fine-tunes at k = {k} yet for these runs.")
        return
    names = [r["run"] for r in rows]
    fig = go.Figure(
        [
            go.Bar(
                name=f"linear probe @ {k} (frozen)", x=names, marker_color="#88CCEE",
                y=[None if r["probe"] is None else 100 * r["probe"] for r in rows],
                error_y=dict(type="data", array=[100 * (r["probe_spread"] or 0) for r in rows]),
            ),
            go.Bar(
                name=f"fine-tuned @ {k}", x=names, marker_color="#332288",
                y=[None if r["finetune"] is None else 100 * r["finetune"] for r in rows],
            ),
        ]
    )
    fig.update_layout(barmode="group", yaxis_title="test accuracy (%)", height=380, margin=dict(t=20))
    st.plotly_chart(fig, key="learned-bars")
    steps = sorted({r["steps"] for r in rows if r["steps"] is not None})
    st.caption(f"Fine-tunes: one recipe for all ({', '.join(map(str, steps))} steps); test split {rows[0]['test_size']}.")
    st.markdown(
        "**Lesson.** A probe reads the features as they are; fine-tuning lets a few labels reshape them. Tasks "
        "that reconstruct pixels or words often probe poorly yet fine-tune well, so judge them by both bars."
    )


def factor_map(runs) -> None:
    names, rows = factor_rows(runs)
    if not rows:
        st.info("Factor probes need a dataset that records its factors (shapes, the corpus, a CSV's text).")
        return
    shown = [r for r in rows if r["task"] != "random_init"]
    z = [[r["relative"].get(n) for n in names] for r in shown]
    text = [[f"{r['scores'][n]:.2f}" if n in r["scores"] else "" for n in names] for r in shown]
    biggest = max([abs(v) for row in z for v in row if v is not None] or [0.1])
    fig = go.Figure(
        go.Heatmap(
            z=z, x=[f"{n} ({rows[0]['metrics'][n]})" for n in names], y=[r["run"] for r in shown],
            text=text, texttemplate="%{text}", colorscale="RdBu", zmid=0, zmin=-biggest, zmax=biggest,
            colorbar=dict(title="vs random init"),
            hovertemplate="%{y}<br>%{x}: %{text} (%{z:+.2f} vs random init)<extra></extra>",
        )
    )
    fig.update_layout(height=120 + 40 * len(shown), margin=dict(t=20), yaxis=dict(autorange="reversed"))
    st.plotly_chart(fig, key="learned-factors")
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
    st.download_button(
        "What did it learn? (CSV)", learned_csv(runs, everything), "pretext-lab-what-it-learned.csv", "text/csv"
    )
