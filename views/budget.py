"""The budget of a comparison, asked in seconds and spent in compute; and what each result rests on.

People think in seconds, but seconds depend on the machine's load. The form asks "about how long on this
machine?", converts it with the machine's measured speed into FLOPs (the same steps at any load), and
shows both. Results show what each run actually spent, and flag a run stopped by the safety cap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from sslcore import lab

if TYPE_CHECKING:
    from sslcore.lab import RunResults

BUDGET_SECONDS = (2, 600, 30)  # the "about how long?" slider: least, most, first offered


@st.cache_data(ttl=3600, show_spinner=False)
def machine_speed(backbone: str, device: str, backbone_args: dict | None = None) -> float:
    """FLOP/s of a training step here at this backbone size (measured once, a few seconds, then cached on disk
    for a day)."""
    with st.spinner("Measuring this machine's speed once (a few seconds)…"):
        return lab.measure_speed(backbone, device, lab.data_dir() / "cache", backbone_args=backbone_args)


def seconds_picker(modality: str, key: str = "budget") -> float:
    """The 'about how long?' slider, with the compute it stands for right under it."""
    seconds = st.slider(
        "About how long per run on this machine? (seconds)",
        *BUDGET_SECONDS,
        key=key,
        help="Every run gets the same amount of compute (FLOPs of its own training step), converted from these "
        "seconds with this machine's measured speed. A busy machine then changes how long a run takes, not what "
        "it learns.",
    )
    default = lab.DEFAULT_BACKBONE[modality]
    speed = machine_speed(default, "auto")
    st.caption(
        f"{lab.describe(seconds * speed, speed)} with the default {default} (another backbone or size converts at "
        f"its own measured speed) · stopped at the latest after {lab.safety_cap(seconds):.0f} s"
    )
    return float(seconds)


def compute_budget(seconds: float, backbone: str, device: str, backbone_args: dict | None = None) -> dict:
    """TrainConfig settings for ``seconds`` here: the compute they buy (at this backbone size's own speed)
    and the wall-clock safety cap."""
    speed = machine_speed(backbone, device, backbone_args or None)
    return {"compute": seconds * speed, "max_seconds": lab.safety_cap(seconds)}


def quick_label(compute: float) -> str:
    """'1.5 TFLOP each (≈ 20 s here)' when this machine's speed is already known; never measures."""
    speed = lab.known_speed(None, "auto", lab.data_dir() / "cache")
    here = f" (≈ {compute / speed:.0f} s here)" if speed else ""
    return f"{lab.format_flops(compute)} each{here}"


def spent_caption(results: RunResults) -> str:
    """'26 steps · 6,656 images · 2.4 TFLOP · 31 s': what a run's numbers rest on."""
    if results.images_seen is None:  # runs from before compute budgets
        return f"{lab.plural(results.steps or 0, 'step')} · {results.train_seconds or 0:.0f} s"
    return (
        f"{lab.plural(results.steps or 0, 'step')} · {lab.plural(results.images_seen, 'image')} seen · "
        f"{lab.format_flops(results.flops)} · {results.wall_s:.0f} s"
    )


def under_budget_warning(run, name: str) -> None:
    """A run stopped by the wall-clock cap did not get its compute: say so where its numbers are shown.
    ``name``: the run's name where it is shown (``lab.run_labels``)."""
    r = run.results_record
    if r and r.under_budget:
        st.warning(
            f"**{name}** is **under budget**: the {r.max_seconds or 0:.0f} s safety "
            f"cap stopped it after {r.steps} of {lab.plural(r.planned_steps or 0, 'step')}. Its numbers are not "
            "comparable with the others'.",
            icon="⏱️",
        )


def spent_table(runs, names: dict[str, str]) -> None:
    """Per run: the budget, steps, images seen, compute and wall time, and test-set size."""
    rows = []
    for run in runs:
        r = run.results_record or lab.RunResults()
        rows.append(
            {
                "run": names[run.id],
                "budget": r.budget or "time",
                "steps": r.steps,
                "images seen": r.images_seen,
                "compute": lab.format_flops(r.flops) if r.flops else "—",
                "training s": round(r.seconds, 1),
                "test images": r.test_images,
                "under budget": "⚠️ yes" if r.under_budget else "",
            }
        )
    st.dataframe(rows, hide_index=True)
    for run in runs:
        under_budget_warning(run, names[run.id])
