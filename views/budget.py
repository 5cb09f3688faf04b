"""The budget of a comparison, asked in seconds and spent in compute; and what each result rests on.

People think in seconds, but seconds depend on the machine's load. The form asks "about how long on this
machine?", converts it with the machine's measured speed into FLOPs (the same steps at any load), and
shows both. Results show what each run actually spent, and flag a run stopped by the safety cap.
"""

from __future__ import annotations

import streamlit as st

from sslcore.budget import describe, known_speed, measure_speed, safety_cap
from sslcore.flops import format_flops
from sslcore.models import DEFAULT_BACKBONE
from sslcore.paths import data_dir


@st.cache_data(ttl=3600, show_spinner=False)
def machine_speed(backbone: str, device: str) -> float:
    """FLOP/s of a training step here (measured once, a few seconds, then cached on disk for a day)."""
    with st.spinner("Measuring this machine's speed once (a few seconds)…"):
        return measure_speed(backbone, device, data_dir() / "cache")


def seconds_picker(modality: str, key: str = "budget") -> float:
    """The 'about how long?' slider, with the compute it stands for right under it."""
    seconds = st.slider(
        "About how long per run on this machine? (seconds)",
        2,
        600,
        30,
        key=key,
        help="Every run gets the same amount of compute (FLOPs of its own training step), converted from these "
        "seconds with this machine's measured speed. A busy machine then changes how long a run takes, not what "
        "it learns.",
    )
    speed = machine_speed(DEFAULT_BACKBONE[modality], "auto")
    st.caption(f"{describe(seconds * speed, speed)} · stopped at the latest after {safety_cap(seconds):.0f} s")
    return float(seconds)


def compute_budget(seconds: float, backbone: str, device: str) -> dict:
    """TrainConfig settings for ``seconds`` here: the compute they buy and the wall-clock safety cap."""
    return {"compute": seconds * machine_speed(backbone, device), "max_seconds": safety_cap(seconds)}


def quick_label(compute: float) -> str:
    """'1.5 TFLOP each (≈ 20 s here)' when this machine's speed is already known; never measures."""
    speed = known_speed(None, "auto", data_dir() / "cache")
    here = f" (≈ {compute / speed:.0f} s here)" if speed else ""
    return f"{format_flops(compute)} each{here}"


def spent_caption(results: dict) -> str:
    """'26 steps · 6,656 images · 2.4 TFLOP · 31 s': what a run's numbers rest on."""
    if "images_seen" not in results:  # runs from before compute budgets
        return f"{results.get('steps', 0)} steps · {results.get('train_seconds', 0):.0f} s"
    return (
        f"{results['steps']} steps · {results['images_seen']:,} images seen · {format_flops(results['flops'])} · "
        f"{results['wall_s']:.0f} s"
    )


def under_budget_warning(run) -> None:
    """A run stopped by the wall-clock cap did not get its compute: say so where its numbers are shown."""
    r = run.results or {}
    if r.get("under_budget"):
        st.warning(
            f"{run.task} · `{run.id[:6]}` is **under budget**: the {r['config'].get('max_seconds') or 0:.0f} s safety "
            f"cap stopped it after {r['steps']} of {r.get('planned_steps')} steps. Its numbers are not comparable "
            "with the others'.",
            icon="⏱️",
        )


def spent_table(runs) -> None:
    """Per run: the budget, steps, images seen, compute and wall time, and test-set size."""
    rows = []
    for run in runs:
        r = run.results or {}
        rows.append(
            {
                "run": f"{run.task} · {run.id[:6]}",
                "budget": r.get("budget", "time"),
                "steps": r.get("steps"),
                "images seen": r.get("images_seen"),
                "compute": format_flops(r["flops"]) if r.get("flops") else "—",
                "training s": round(r.get("wall_s", r.get("train_seconds", 0.0)), 1),
                "test images": r.get("test_images"),
                "under budget": "⚠️ yes" if r.get("under_budget") else "",
            }
        )
    st.dataframe(rows, hide_index=True)
    for run in runs:
        under_budget_warning(run)
