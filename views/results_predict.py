"""Results: what a trained network predicts (held-out examples, the pretext head's answer beside the
truth) and the linear probe's per-class confusion matrix. The work is sslcore.predict; this draws it.

A fragment (key ``predictions``): picking another run reruns this section alone. A finished run's
predictions are made once per server, on its dataset made once for all the runs that share it."""

from __future__ import annotations

import streamlit as st

from sslcore import lab
from views.charts import confusion_figure
from views.owner import can_change
from views.ui import run_dataset, show_preview

SHOWN = 4


@st.cache_resource(max_entries=16, show_spinner="Running the trained network on held-out examples…")
def _predictions(run_dir: str, run_id: str, config_key: str, config: dict):  # noqa: ARG001 - cache keys
    data = run_dataset(config) if config.get("dataset") in lab.DATASETS else None  # shared by the runs on it
    return lab.predict_run(run_dir, config, count=SHOWN, data=data)


@st.fragment(key="predictions")
def predictions_section(store, runs, names: dict[str, str]) -> None:
    """``names``: every compared run's name ({id: name}, ``lab.run_labels``)."""
    trained = [r for r in runs if r.task != lab.RANDOM_INIT]
    if not trained:
        return
    st.subheader("What the trained network predicts")
    run_id = st.selectbox("Run", [r.id for r in trained], format_func=names.get, key="predict-run")
    run = next(r for r in trained if r.id == run_id)
    if run.config.get("dataset") not in lab.DATASETS and not can_change(run):
        st.info("This run trained on someone's own upload: only they (and the teacher) see its examples.")
    else:
        try:
            shown = _predictions(str(store.run_dir(run.id)), run.id, str(run.finished), run.config)
        except (lab.ArtifactError, lab.PretextLabError) as err:
            st.warning(f"Cannot show this run's predictions: {err}")
        else:
            st.caption(
                f"{len(shown.items)} held-out test examples, made by the task exactly as in training. The network "
                f"got {shown.correct} of {shown.total} right ({shown.what})."
            )
            show_preview(shown.items)
    confusion_matrix(run, names[run.id])


def confusion_matrix(run, name: str) -> None:
    """The linear probe's predictions on the test split, per class: the diagonal is what it gets right."""
    results = run.results_record
    if not results or not results.confusion:
        st.caption("This run was made before confusion matrices were recorded.")
        return
    names = list(results.class_names or [str(i) for i in range(len(results.confusion))])
    fine_tuned = run.task == lab.FINETUNE  # its probe reads the fine-tuned backbone: said so in the title
    st.plotly_chart(confusion_figure(results.confusion, names, name, fine_tuned), key=f"confusion-{run.id}")
