"""How long a run's evaluation will take: measured, never invented.

The trainer's ETA ends with training; evaluation (probes, kNN, few labels, factor probes, maps: 25-40 s a run on
two cores) sends one "evaluating" event and nothing until the run ends. What it will take is read from this
store: how long the evaluations of the last finished runs like it took here, from their "evaluating" event to
their end. Runs are alike when they share what evaluation costs (the data, its size, the image size, the
backbone, and whether it is a fine-tune, whose evaluation is lighter).
"""

from __future__ import annotations

import statistics
import time

from sslcore.kinds import FINETUNE
from sslcore.runs.store import Run, RunStore

EVALUATING = "evaluating"
ALIKE = 5  # the most past evaluations an estimate rests on (the newest)
SCAN = 60  # the finished runs looked at to find them


def evaluation_cost_key(config: dict) -> tuple:
    """What an evaluation's length depends on: two runs with the same key take about as long here."""
    return (
        config.get("dataset"),
        config.get("n"),
        config.get("image_size"),
        config.get("backbone"),
        repr(config.get("backbone_args")),
        config.get("task") == FINETUNE,
    )


def past_evaluations(store: RunStore, run: Run) -> list[float]:
    """Seconds the newest (at most ALIKE) finished evaluations of runs like ``run`` took here, newest first."""
    key = evaluation_cost_key(run.config)
    alike = [r for r in store.list(status="succeeded", limit=SCAN) if evaluation_cost_key(r.config) == key]
    alike = [r for r in alike if r.finished is not None][: 4 * ALIKE]
    began = store.phase_started([r.id for r in alike], EVALUATING)
    seconds = [r.finished - began[r.id] for r in alike if r.id in began and r.finished >= began[r.id]]
    return seconds[:ALIKE]


def evaluation_phase(store: RunStore, run: Run, now: float | None = None) -> tuple[float | None, str]:
    """(fraction done, words) for a run being evaluated; (None, "") for one that is not. The fraction is the time
    so far over the median of past evaluations like it (kept below 1), or None without any."""
    began = store.phase_started([run.id], EVALUATING).get(run.id)
    if began is None:
        return None, ""
    so_far = max(0.0, (time.time() if now is None else now) - began)
    past = past_evaluations(store, run)
    head = f"evaluating (probes, kNN, few labels, maps) · {so_far:.0f} s so far"
    if not past:
        return None, f"{head} · no evaluation of a run like it has finished here yet to estimate from"
    typical = statistics.median(past)
    n = len(past)
    spread = f"{min(past):.0f}–{max(past):.0f} s" if n > 1 else f"{past[0]:.0f} s"
    which = f"the last {n} evaluations of runs like it here" if n > 1 else "the last evaluation of a run like it here"
    if so_far >= max(past):
        return 0.99, f"{head} · taking longer than {which} ({spread})"
    return min(0.99, so_far / typical), f"{head} · about {max(0.0, typical - so_far):.0f} s left ({which}: {spread})"
