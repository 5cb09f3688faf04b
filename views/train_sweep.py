"""Train's "vary one knob" form: a sweep of one task over a few values of one knob, as one comparison group.

A thin layer over ``sslcore.sweeps``: the values are checked like every knob, every run gets the same
compute (FLOPs of its own step, converted from "about how long here?" as comparisons do), and the group
gets its random-init baseline, exactly as a comparison does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from sslcore import lab
from views.budget import BUDGET_SECONDS, compute_budget, seconds_picker
from views.owner import owner_or_ask
from views.ui import shapes_size_input, start_worker

if TYPE_CHECKING:
    from sslcore.lab import RunStore

OWN = "own"


def _apply_preset() -> None:
    name = st.session_state.get("sweep.preset")
    if name in lab.PRESETS:
        p = lab.PRESETS[name]
        st.session_state["sweep.task"] = p.task
        st.session_state["sweep.knob"] = p.knob
        st.session_state["sweep.values"] = ",".join(map(str, p.values))
        st.session_state["sweep.fixed"] = p.params


def _new_knob() -> None:
    """Another task or knob is a sweep of one's own: the preset (and its fixed knobs and setup) no longer apply."""
    st.session_state.pop("sweep.values", None)
    st.session_state["sweep.fixed"] = {}
    st.session_state["sweep.preset"] = OWN


def _measured_budget(p) -> dict | None:
    """The setup a preset was measured with, when the person keeps it (the default): what its note cites is what
    runs. None for a preset never measured, or when they chose their own budget."""
    if p is None or p.measured is None:
        return None
    m = p.measured
    speed = lab.known_speed(None, "auto", lab.data_dir() / "cache")
    here = f" (≈ {m.compute / speed:.0f} s per run here)" if speed else ""
    keep = st.toggle(
        f"Run it as measured: {lab.format_flops(m.compute)} per run on {m.n:,} {m.dataset}, batch {m.batch_size}{here}",
        value=True,
        key="sweep.as_measured",
        help="The note above was measured with exactly this setup and these fixed knobs. Turn off to give the "
        "sweep your own budget and dataset size (then compare with the note loosely).",
    )
    if not keep:
        return None
    seconds = m.compute / speed if speed else BUDGET_SECONDS[2]
    return {**p.setup(), "max_seconds": lab.safety_cap(seconds)}


def sweep_form(store: RunStore, modality: str) -> None:
    """The expander with the sweep form; queues the sweep in ``store`` as one group owned by this person."""
    with st.expander("🎚️ Vary one knob — a sweep that finds the sweet spot", expanded=False):
        presets = {OWN: "— your own sweep —"} | {
            n: f"📖 {p.title}" for n, p in lab.PRESETS.items() if lab.task_class(p.task).modality == modality
        }
        st.selectbox(
            "Start from a published finding",
            list(presets),
            format_func=presets.get,
            key="sweep.preset",
            on_change=_apply_preset,
        )
        p = lab.PRESETS.get(st.session_state.get("sweep.preset"))
        if p is not None:
            st.caption(f"**Paper:** {p.finding} — *{p.reference}*  \n**We measured:** {p.note}")
        names = [t.name for t in lab.list_tasks(modality)]
        if st.session_state.get("sweep.task") not in names:
            st.session_state["sweep.task"] = names[0]
        left, mid, right = st.columns([2, 2, 3])
        task = left.selectbox(
            "Task", names, format_func=lambda n: lab.task_class(n).title, key="sweep.task", on_change=_new_knob
        )
        specs = {s.name: s for s in lab.param_specs(lab.task_class(task).Params)}
        if st.session_state.get("sweep.knob") not in specs:
            st.session_state["sweep.knob"] = next(iter(specs))
        knob = mid.selectbox(
            "Knob", list(specs), key="sweep.knob", on_change=_new_knob, help=specs[st.session_state["sweep.knob"]].help
        )
        st.session_state.setdefault("sweep.values", lab.default_sweep_values(specs[knob]))
        raw = right.text_input("Values (comma-separated)", key="sweep.values", help=specs[knob].help)
        measured = _measured_budget(p)
        seconds = None if measured else seconds_picker(modality, key="sweep.budget")
        b, c = st.columns(2)
        seeds = b.number_input(
            "Seeds per value", 1, lab.MAX_SEEDS, 1, key="sweep.seeds", help="Medians are drawn; more seeds, less noise."
        )
        if not measured:
            n = shapes_size_input(c, "Dataset size", disabled=modality == "text", key="sweep.n")
        fixed = st.session_state.get("sweep.fixed") or {}
        if fixed:
            st.caption("Fixed for a clean comparison: " + ", ".join(f"{k}={v}" for k, v in fixed.items()))
        if st.button("Start the sweep", type="primary", key="sweep.start") and (owner := owner_or_ask()):
            try:
                knob, values = lab.parse_sweep(task, f"{knob}={raw}")
                if measured:
                    settings = measured
                else:
                    settings = {
                        "dataset": lab.DEFAULT_DATASET[modality],
                        **compute_budget(seconds, lab.DEFAULT_BACKBONE[modality], "auto"),
                        "n": int(n) if modality == "image" else None,
                    }
                params = {k: v for k, v in fixed.items() if k != knob}
                base = lab.TrainConfig(task=task, **{**settings, "params": params})
                group, ids = store.submit_group(lab.sweep_configs(base, knob, values, int(seeds)), owner=owner)
                st.session_state.group = group
                start_worker(just_queued=True)
                st.success(
                    f"Queued a sweep of {task} over {knob} = {', '.join(map(str, values))}: {len(ids)} runs with the "
                    f"random-init baseline, {lab.format_flops(base.compute)} each."
                )
            except lab.PretextLabError as err:
                st.error(str(err), icon="⚠️")
