"""Results, "Which layer holds what?": each run's linear probe per backbone stage beside random init's.

Called from views/results.py; the panels and their reading come from sslcore.stages (via lab), the chart
from views/charts.py.
"""

import streamlit as st

from sslcore import lab
from views.charts import stage_figure


def layers_section(runs, names: dict[str, str]) -> None:
    """A small chart per run (random init is the dashed reference in each), its reading, what is missing.
    Fine-tunes are left out: they are judged by their fine-tuned network, and never probe per stage."""
    st.subheader("Which layer holds what?")
    shown = [r for r in runs if r.task not in (lab.RANDOM_INIT, lab.FINETUNE)] or runs
    panels, older = [], []
    for run in shown:
        panel = lab.stage_panel(run.results_record, names[run.id]) if run.results_record else None
        (panels.append(panel) if panel is not None else older.append(names[run.id]))
    if panels:
        st.plotly_chart(stage_figure(panels), key="layers")
        st.markdown("  \n".join(p["reading"] for p in panels))
        st.caption(
            "The same linear probe as above, on each stage's globally pooled output (one pass of the frozen "
            "backbone, same split); dashed: the untrained network, dotted: chance. Gidaris et al. (2018) found "
            "rotation's features best in the middle blocks, not the last; Kolesnikov et al. (2019) that the best "
            "layer depends on the task and the architecture."
        )
    if older:
        st.caption(
            f"No per-stage probes for {', '.join(older)}: they finished before these were measured; train them again."
        )
