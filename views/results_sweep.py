"""Results for a sweep: the pretext score, the downstream probe and the factor probes against the knob.

Drawn when the chosen runs are one task differing in one knob (``sslcore.sweeps.sweep_knob``). One chart
shows where the task is too easy (solved well, features poor: a shortcut) and where it is too hard, with
a two-sentence reading; every point carries the steps it rests on.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from sslcore.sweeps import PRESETS, reading, sweep_knob, sweep_points

FACTOR_DASH = "dot"


def sweep_figure(points: list[dict], knob: str, task: str) -> go.Figure:
    """One x position per knob value; percentages on one axis (factor probes as their own scores × 100)."""
    x = [str(p["value"]) for p in points]
    hover = [f"{p['steps']:.0f} steps · {p['runs']} run(s)" if p["steps"] is not None else "" for p in points]

    def line(name, values, **style):
        return go.Scatter(
            x=x,
            y=[None if v is None else 100 * v for v in values],
            name=name,
            mode="lines+markers",
            customdata=hover,
            hovertemplate="%{y:.1f} · %{customdata}",
            **style,
        )

    fig = go.Figure()
    if any(p["pretext_score"] is not None for p in points):
        fig.add_trace(
            line("pretext (0 = chance, 100 = solved)", [p["pretext_score"] for p in points], line=dict(color="#CC6677"))
        )
    fig.add_trace(line("linear probe (%)", [p["linear_probe"] for p in points], line=dict(color="#332288", width=3)))
    fig.add_trace(line("kNN (%)", [p["knn"] for p in points], line=dict(color="#88CCEE")))
    fig.add_trace(
        line("random init probe (%)", [p["baseline_probe"] for p in points], line=dict(color="#999999", dash="dash"))
    )
    for name in sorted({n for p in points for n in p["factors"]} - {"class"}):
        fig.add_trace(
            line(f"factor: {name}", [p["factors"].get(name) for p in points], line=dict(dash=FACTOR_DASH, width=1.5))
        )
    fig.update_layout(
        title=f"{task}: what changes with {knob}",
        xaxis_title=knob,
        yaxis_title="score (%)",
        height=420,
        margin=dict(t=40),
        legend=dict(orientation="h", y=-0.25),
    )
    fig.update_xaxes(type="category")
    return fig


def sweep_section(runs) -> None:
    """The sweep chart and its reading, when ``runs`` form a sweep; nothing otherwise."""
    knob = sweep_knob(runs)
    if knob is None:
        return
    task = next(r.task for r in runs if r.config.get("params", {}).get(knob) is not None)
    points = sweep_points(runs, knob)
    st.subheader(f"Sweep: {task} over {knob}")
    st.plotly_chart(sweep_figure(points, knob, task), key="sweep")
    st.markdown(reading(points, knob))
    preset = next((p for p in PRESETS.values() if p.task == task and p.knob == knob), None)
    if preset is not None:
        st.caption(
            f"**Published finding:** {preset.finding} — *{preset.reference}*  \n**We measured:** {preset.measured}"
        )
    st.caption(
        "Medians over seeds. Pretext: the final pretext metric on the common scale of this page (0 = guessing, "
        "100 = solved; PSNR from 10 to 40 dB). Factor probes (shapes): accuracy or R² × 100 of a linear read-out of "
        "each generating factor."
    )
