"""Results for a sweep: the pretext score, the downstream probe and the factor probes against the knob.

Drawn when the chosen runs are one task differing in one knob (``sslcore.sweeps.sweep_knob``). One chart
shows where the task is too easy (solved well, features poor: a shortcut) and where it is too hard, with
a two-sentence reading; every point carries the steps it rests on.
"""

from __future__ import annotations

import streamlit as st

from sslcore import lab
from views.charts import sweep_figure


def sweep_section(runs) -> None:
    """The sweep chart and its reading, when ``runs`` form a sweep; nothing otherwise."""
    knob = lab.sweep_knob(runs)
    if knob is None:
        return
    task = next(r.task for r in runs if r.config.get("params", {}).get(knob) is not None)
    points = lab.sweep_points(runs, knob)
    st.subheader(f"Sweep: {task} over {knob}")
    st.plotly_chart(sweep_figure(points, knob, task), key="sweep")
    st.markdown(lab.reading(points, knob))
    preset = next((p for p in lab.PRESETS.values() if p.task == task and p.knob == knob), None)
    if preset is not None:
        st.caption(
            f"**Published finding:** {preset.finding} — *{preset.reference}*  \n**We measured:** {preset.note}"
        )
    st.caption(
        "Medians over seeds. Pretext: the final pretext metric on the common scale of this page (0 = guessing, "
        "100 = solved; PSNR from 10 to 40 dB). Factor probes (shapes): accuracy or R² × 100 of a linear read-out of "
        "each generating factor."
    )
