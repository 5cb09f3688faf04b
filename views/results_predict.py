"""Results: what a trained network predicts (held-out examples, the pretext head's answer beside the
truth) and the linear probe's per-class confusion matrix. The work is sslcore.predict; this draws it."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from sslcore.artifacts import ArtifactError
from sslcore.data import DATASETS
from sslcore.errors import PretextLabError
from sslcore.predict import predict_run
from sslcore.report import run_label
from views.owner import can_change
from views.ui import show_preview

SHOWN = 4


@st.cache_resource(max_entries=16, show_spinner="Running the trained network on held-out examples…")
def _predictions(run_dir: str, run_id: str, config_key: str, config: dict):  # noqa: ARG001 - cache keys
    return predict_run(run_dir, config, count=SHOWN)


def predictions_section(store, runs) -> None:
    trained = [r for r in runs if r.task != "random_init"]
    if not trained:
        return
    st.subheader("What the trained network predicts")
    labels = {r.id: run_label(r) for r in trained}
    run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="predict-run")
    run = next(r for r in trained if r.id == run_id)
    if run.config.get("dataset") not in DATASETS and not can_change(run):
        st.info("This run trained on someone's own upload: only they (and the teacher) see its examples.")
    else:
        try:
            shown = _predictions(str(store.run_dir(run.id)), run.id, str(run.finished), run.config)
        except (ArtifactError, PretextLabError) as err:
            st.warning(f"Cannot show this run's predictions: {err}")
        else:
            st.caption(
                f"{len(shown.items)} held-out test examples, made by the task exactly as in training. The network "
                f"got {shown.correct} of {shown.total} right ({shown.what})."
            )
            show_preview(shown.items)
    confusion_matrix(run)


def confusion_matrix(run) -> None:
    """The linear probe's predictions on the test split, per class: the diagonal is what it gets right."""
    counts = (run.results or {}).get("confusion")
    if not counts:
        st.caption("This run was made before confusion matrices were recorded.")
        return
    names = list((run.results or {}).get("class_names") or [str(i) for i in range(len(counts))])
    rows = [sum(row) for row in counts]
    share = [[100 * c / max(1, total) for c in row] for row, total in zip(counts, rows)]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=names,
            y=names,
            text=counts,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar=dict(title="% of the row"),
            hovertemplate="true %{y}, predicted %{x}: %{text} images (%{z:.0f}% of %{y})<extra></extra>",
        )
    )
    total, right = sum(rows), sum(counts[i][i] for i in range(len(counts)))
    fig.update_layout(
        title=f"Linear probe on {run.task}'s features: {right} of {total} test examples right",
        xaxis_title="predicted class",
        yaxis_title="true class",
        yaxis_autorange="reversed",
        height=max(360, 28 * len(names) + 140),
        margin=dict(l=80, r=20, t=50, b=80),
    )
    st.plotly_chart(fig, key=f"confusion-{run.id}")
