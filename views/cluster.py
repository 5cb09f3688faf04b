"""Where runs go and where a person's next run stands in the shared queue (sidebar and Train page)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import streamlit as st

from sslcore import lab
from views.ui import run_store, runs_device

if TYPE_CHECKING:
    from sslcore.lab import RunStore


@st.cache_data(ttl=10, show_spinner=False)
def _target(path: str) -> str:  # noqa: ARG001 - the data folder: the cache keys on it
    described = sorted({w["device"] for w in run_store().live_workers() if w["device"]})
    if described:  # what the live dispatchers say: "this machine (CPU)", "Ray cluster, 2 nodes, 4 GPUs, ..."
        return " · ".join(described)
    if os.environ.get(lab.EXECUTOR_ENV) == "ray":
        return "a Ray cluster (connecting…)"
    return f"this machine ({runs_device()})"


def runs_target() -> str:
    """Where runs go now, as the dispatcher describes its executor (checked at most every 10 s)."""
    return _target(str(lab.data_dir()))


def show_runs_target(slot) -> None:
    """'Runs use: this machine (CPU)' in the sidebar slot, or why background runs are unavailable."""
    try:
        slot.caption(f"Runs use: **{runs_target()}**")
    except lab.PretextLabError as err:  # the store went away between the worker check and now
        slot.error(f"Background runs are unavailable: {err}", icon="🛑")


def show_queue_place(store: RunStore, owner: str | None) -> None:
    """'Your next run is 3rd of 17 in the queue': the queue is fair (one run per person per round)."""
    place = store.queue_position(owner)
    if place is not None:
        position, total = place
        st.caption(
            f"Your next run is **{position} of {total}** waiting. Runs start in turn, one per person at a time, "
            "so everyone's first runs go before anyone's tenth."
        )
