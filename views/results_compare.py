"""Results: which comparison to open (yours, the class reference, anyone's), and its numbers with their
context: accuracy with the spread over seeds, chance level, steps, images seen, test-set size and warnings
in words, and the pretext metric on one scale for every task."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from sslcore import lab
from views.charts import accuracy_figure, accuracy_groups, pretext_figure
from views.owner import is_teacher_here, me, owner_words, refused, teacher_token


def _group_words(group: dict, reference: str | None) -> str:
    when = dt.datetime.fromtimestamp(group["created"]).strftime("%H:%M")
    pin = "📌 class reference · " if group["group_id"] == reference else ""
    tasks = ", ".join(lab.task_words(t) for t in group["tasks"])
    return f"{pin}{owner_words(group['owner'])} · {tasks} · {when} · {group['group_id'][:6]}"


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
            except (lab.NotAllowed, lab.PretextLabError) as err:
                refused(err) if isinstance(err, lab.NotAllowed) else st.error(str(err))
    return [r.id for r in finished if r.group_id == group]


def accuracy_chart(runs, rows: list[dict], names: dict[str, str]) -> None:
    """Linear probe and kNN of the frozen features per run (``views.charts.accuracy_figure``; fine-tunes are
    judged by their fine-tuned network, below), how to read it, and the context table."""
    frozen = [row for row in rows if row["kind"] != lab.FINETUNE]
    if frozen:
        st.plotly_chart(accuracy_figure(frozen), key="accuracy")
        seeds = max(len(v) for v in accuracy_groups(frozen).values())
        if seeds > 1:
            st.caption(
                f"Bars: mean over {seeds} seeds; whiskers: lowest to highest seed; circles: each seed. Two tasks whose "
                "whiskers overlap are not told apart by this comparison."
            )
    if len(frozen) < len(rows):
        st.caption(
            "Fine-tunes are not in this chart: a fine-tune's accuracy is its fine-tuned network's, on the labels it "
            "was fine-tuned on (the table below, and “Frozen probe or fine-tuned” further down)."
        )
    context_table(runs, names)


def context_table(runs, names: dict[str, str]) -> None:
    """Every run's numbers beside what they rest on, and its warnings in words: a fine-tune's one number is its
    fine-tuned network's accuracy (its frozen-feature columns stay empty)."""
    table = []
    for run in runs:
        r = run.results_record
        tuned = lab.finetuned_accuracy(run)
        frozen = run.task != lab.FINETUNE
        table.append(
            {
                "run": names[run.id],
                "linear probe": f"{100 * r.linear_probe:.1f}%" if frozen else "—",
                "kNN": f"{100 * r.knn:.1f}%" if frozen else "—",
                "fine-tuned": "—" if tuned is None else f"{100 * tuned:.1f}%",
                "rests on": lab.context_line({**run.results, "task": run.task}, run.config),
                "dataset": lab.dataset_label(run.config.get("dataset")),
                "by": owner_words(run.owner),
            }
        )
    st.dataframe(table, hide_index=True, width="stretch")
    for run in runs:
        for warning in lab.flags({**(run.results or {}), "task": run.task}, run.config):
            st.warning(f"**{names[run.id]}**: {warning}", icon="⚠️")


def pretext_chart(runs) -> None:
    """Pretext success vs downstream accuracy, every task's metric put on one scale: 0 = chance, 1 = perfect."""
    points = lab.pretext_points(runs, lab.run_names(runs))
    st.plotly_chart(pretext_figure(points), key="pretext-vs-probe")
    notes = sorted({f"{p['task']}: {p['scale']}" for p in points})
    st.caption("Common scale, per task — " + "; ".join(notes) + "." if notes else "No pretext metrics to show.")
