"""Which layer holds what: a run's linear probe per backbone stage beside random init's, and its reading.

Plain data for the Results page's small multiples (``views/charts.py: stage_figure``) and its one sentence;
no streamlit, no torch. The probes themselves are measured at the end of every run
(``sslcore.evaluate.stage_probes`` on ``extract_features(..., stages=True)``) and stored under
``results["stages"]``, the random-init baseline's under ``results["baseline"]["stages"]``.

Gidaris et al. (2018) found rotation's features best in the middle blocks of a network, not its last;
Kolesnikov et al. (2019) that which layer is best depends on the task and the architecture.
"""

from __future__ import annotations

from sslcore.records import RunResults


def stage_panel(results: RunResults, name: str) -> dict | None:
    """One run's panel: ``{"name", "stages", "dims", "probe", "baseline", "chance", "best", "last",
    "reading"}`` (accuracies as fractions, in the backbone's stage order; ``random_init`` None when the
    baseline has no stage probes for the same stages, ``chance`` None without a class count). None for a
    run from before stage probes were recorded."""
    rows = [r for r in results.stages or [] if isinstance(r, dict) and r.get("linear_probe") is not None]
    if not rows:
        return None
    stages = [str(r["stage"]) for r in rows]
    probe = [float(r["linear_probe"]) for r in rows]
    base_rows = (results.baseline.stages if results.baseline is not None else None) or []
    base = {str(r.get("stage")): r.get("linear_probe") for r in base_rows if isinstance(r, dict)}
    random_init = [float(base[s]) for s in stages] if all(base.get(s) is not None for s in stages) else None
    best = max(range(len(probe)), key=lambda i: (probe[i], -i))  # the first of equals
    panel = {
        "name": name,
        "stages": stages,
        "dims": [r.get("dim") for r in rows],
        "probe": probe,
        "baseline": random_init,
        "chance": 1 / results.num_classes if results.num_classes else None,
        "best": best,
        "last": len(probe) - 1,
    }
    panel["reading"] = stage_reading(panel)
    return panel


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _short(stage: str) -> str:
    """ "block 3 (128 ch)" -> "block 3": the name without its width, for a sentence."""
    return stage.split(" (")[0]


def stage_reading(panel: dict) -> str:
    """One sentence from a panel's numbers: where the class is most linearly readable, and how the last
    stage compares, e.g. "rotation's best layer is block 3 (71%; random init 40%), its last, block 4, 58%."."""
    name, stages, probe, base = panel["name"], panel["stages"], panel["probe"], panel["baseline"]
    best, last = panel["best"], panel["last"]

    def at(i: int) -> str:
        reference = f"; random init {_pct(base[i])}" if base is not None else ""
        return f"{_short(stages[i])} ({_pct(probe[i])}{reference})"

    if len(stages) == 1:
        return f"{name} has one probed layer, {at(0)}."
    if best != last:
        return f"{name}'s best layer is {at(best)}, its last, {_short(stages[last])}, {_pct(probe[last])}."
    return f"{name}'s best layer is its last, {at(last)}; its first, {_short(stages[0])}, reads {_pct(probe[0])}."
