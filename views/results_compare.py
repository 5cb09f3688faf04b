"""Results: which comparison to open (yours, the class reference, anyone's), and its numbers with their
context: accuracy with the spread over seeds, chance level, steps, images seen, test-set size and warnings
in words, and the pretext metric on one scale for every task."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import streamlit as st

from sslcore.context import chance_points, context_line, flags, pretext_scale, scale_note, spread
from sslcore.errors import PretextLabError
from sslcore.runs import NotAllowed
from sslcore.uploads import dataset_label
from views.owner import is_teacher_here, me, owner_words, refused, teacher_token

GREY = "#777777"


def _group_words(group: dict, reference: str | None) -> str:
    when = dt.datetime.fromtimestamp(group["created"]).strftime("%H:%M")
    pin = "📌 class reference · " if group["group_id"] == reference else ""
    return f"{pin}{owner_words(group['owner'])} · {', '.join(group['tasks'])} · {when} · {group['group_id'][:6]}"


def pick_comparison(store, finished) -> list[str]:
    """The comparison to show: the teacher's pinned class reference, yours, or anyone's (yours by default;
    the class reference when you have none yet). Returns the ids of its finished runs."""
    groups = [g for g in store.groups(limit=100) if any(r.group_id == g["group_id"] for r in finished)]
    reference = store.reference_group()
    own = store.latest_group(owner=me())
    order = sorted(groups, key=lambda g: (g["group_id"] != reference, g["owner"] != me()))
    if not order:
        return [finished[0].id]
    ids = [g["group_id"] for g in order]
    default = own if own in ids else (reference if reference in ids else ids[0])
    st.session_state.setdefault("comparison", default)
    if st.session_state.comparison not in ids:
        st.session_state.comparison = default
    words = {g["group_id"]: _group_words(g, reference) for g in order}
    group = st.selectbox(
        "Comparison",
        ids,
        format_func=words.get,
        key="comparison",
        help="Opens on your latest comparison. Everyone may look at everyone's runs; the teacher's class reference "
        "comes first.",
    )
    if reference and group != reference:
        st.caption(f"📌 The teacher pinned a class reference comparison: {words.get(reference, reference)}")
    if is_teacher_here():
        pinned = group == reference
        if st.button("Unpin the class reference" if pinned else "📌 Pin as the class reference", key="pin"):
            try:
                store.pin_reference(None if pinned else group, token=teacher_token())
                st.rerun()
            except (NotAllowed, PretextLabError) as err:
                refused(err) if isinstance(err, NotAllowed) else st.error(str(err))
    return [r.id for r in finished if r.group_id == group]


def _by_task(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["task"], []).append(row)
    return out


def accuracy_chart(runs, rows: list[dict]) -> None:
    """Linear probe and kNN per task: the mean over seeds as a bar, each seed as a dot, the spread as a
    whisker (min to max), chance as a dashed line, every bar's context in its hover and the table below."""
    tasks = _by_task(rows)
    if "random_init" not in tasks:  # the group's own baseline, else the one every run carries
        first = rows[0]
        tasks = {"random_init": [{"linear_probe": first["baseline_probe"], "knn": first["baseline_knn"]}], **tasks}
    order = ["random_init", *(t for t in tasks if t != "random_init")]
    names = ["random init (baseline)" if t == "random_init" else t for t in order]
    fig = go.Figure()
    for metric, label, colour in (("linear_probe", "linear probe", "#332288"), ("knn", "kNN (k=20)", "#88CCEE")):
        stats = [spread([r[metric] for r in tasks[t]]) for t in order]
        means = [100 * s["mean"] for s in stats]
        fig.add_bar(
            name=label,
            x=names,
            y=means,
            marker_color=colour,
            offsetgroup=metric,
            error_y=dict(
                type="data",
                symmetric=False,
                array=[100 * (s["max"] - s["mean"]) for s in stats],
                arrayminus=[100 * (s["mean"] - s["min"]) for s in stats],
                visible=any(s["n"] > 1 for s in stats),
                color=GREY,
            ),
            customdata=[
                [s["n"], 100 * s["min"], 100 * s["max"], tasks[t][0].get("context", "")] for t, s in zip(order, stats)
            ],
            hovertemplate="%{x}: %{y:.1f}% (mean of %{customdata[0]} seeds, %{customdata[1]:.1f}–%{customdata[2]:.1f}%)"
            "<br>%{customdata[3]}<extra>" + label + "</extra>",
        )
        if any(s["n"] > 1 for s in stats):
            xs = [names[i] for i, t in enumerate(order) for _ in tasks[t]]
            fig.add_scatter(
                x=xs,
                y=[100 * r[metric] for t in order for r in tasks[t]],
                mode="markers",
                marker=dict(color="black", size=6, symbol="circle-open"),
                offsetgroup=metric,
                name=f"{label}: each seed",
                showlegend=metric == "linear_probe",
            )
    classes = max((r.get("num_classes") or 0 for r in rows), default=0)
    if chance := chance_points(classes):
        fig.add_hline(
            y=chance,
            line_dash="dash",
            line_color=GREY,
            annotation_text=f"chance {chance:.1f}% ({classes} classes)",
            annotation_position="top left",
        )
    fig.update_layout(
        barmode="group",
        yaxis_title="test accuracy (%)",
        yaxis_range=[0, 100],
        height=400,
        margin=dict(t=30),
        legend=dict(orientation="h", y=1.08),
    )
    st.plotly_chart(fig, key="accuracy")
    seeds = max(len(v) for v in tasks.values())
    if seeds > 1:
        st.caption(
            f"Bars: mean over {seeds} seeds; whiskers: lowest to highest seed; circles: each seed. Two tasks whose "
            "whiskers overlap are not told apart by this comparison."
        )
    context_table(runs)


def context_table(runs) -> None:
    """Every run's numbers beside what they rest on, and its warnings in words."""
    table = []
    for run in runs:
        r = {**(run.results or {}), "task": run.task}
        table.append(
            {
                "run": f"{run.task} · seed {run.config.get('seed')}",
                "linear probe": f"{100 * r['linear_probe']:.1f}%",
                "kNN": f"{100 * r['knn']:.1f}%",
                "rests on": context_line(r, run.config),
                "dataset": dataset_label(run.config.get("dataset")),
                "by": owner_words(run.owner),
            }
        )
    st.dataframe(table, hide_index=True, width="stretch")
    for run in runs:
        for warning in flags({**(run.results or {}), "task": run.task}, run.config):
            st.warning(f"**{run.task}** (seed {run.config.get('seed')}): {warning}", icon="⚠️")


def pretext_chart(runs) -> None:
    """Pretext success vs downstream accuracy, every task's metric put on one scale: 0 = chance, 1 = perfect."""
    points = []
    for run in runs:
        r = run.results or {}
        if run.task == "random_init" or r.get("pretext_metric") is None:
            continue
        params, batch, classes = run.config.get("params") or {}, run.config.get("batch_size"), r.get("num_classes")
        points.append(
            {
                "task": run.task,
                "x": pretext_scale(run.task, r["pretext_metric"], params, batch, classes),
                "y": 100 * r["linear_probe"],
                "raw": f"{r.get('metric_label') or 'pretext metric'}: {r['pretext_metric']:.3g}",
                "scale": scale_note(run.task, params, batch, classes),
            }
        )
    fig = go.Figure()
    for task, rows in _by_task(points).items():
        fig.add_scatter(
            x=[p["x"] for p in rows],
            y=[p["y"] for p in rows],
            mode="markers+text",
            name=task,
            text=[task] * len(rows),
            textposition="top center",
            cliponaxis=False,
            customdata=[[p["raw"], p["scale"]] for p in rows],
            hovertemplate="<b>%{text}</b><br>%{customdata[0]}<br>on the common scale: %{x:.2f} "
            "(%{customdata[1]})<br>linear probe %{y:.1f}%<extra></extra>",
        )
    fig.add_vline(x=0, line_dash="dash", line_color=GREY, annotation_text="chance", annotation_position="bottom right")
    fig.add_vline(x=1, line_dash="dot", line_color=GREY, annotation_text="perfect", annotation_position="bottom left")
    fig.update_layout(
        title="Better at the pretext task → better features?",
        xaxis_title="pretext success: 0 = chance, 1 = perfect (each task's own metric, rescaled)",
        yaxis_title="linear probe accuracy (%)",
        xaxis_range=[-0.15, 1.15],
        yaxis_range=[0, 105],
        height=380,
        margin=dict(l=60, r=30, t=50, b=60),
        showlegend=False,
    )
    st.plotly_chart(fig, key="pretext-vs-probe")
    notes = sorted({f"{p['task']}: {p['scale']}" for p in points})
    st.caption("Common scale, per task — " + "; ".join(notes) + "." if notes else "No pretext metrics to show.")
