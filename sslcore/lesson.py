"""The finding of a comparison in words: what its numbers say, and what they rest on.

Results opens with these sentences, and ``compare --quick`` prints them, so a newcomer reads the lesson
before the charts. They are computed from the runs' own numbers and never claim more than those show: a
gain within the test set's noise is called that, and a fine-tune that does not beat training from
scratch is said not to pay off, on that data, at that k.
"""

from __future__ import annotations

from statistics import fmean

from sslcore.context import noise_points
from sslcore.flops import format_flops
from sslcore.kinds import FINETUNE, RANDOM_INIT, SUPERVISED
from sslcore.names import labels_words, plural, task_words


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _name(task: str) -> str:
    """A task as a sentence names it: "relative position", not "relative_position"."""
    return task_words(task)


def _by_task(rows: list[dict], key) -> dict[str, float]:
    """Mean of ``key(row)`` per task name (several seeds of one task give one number)."""
    groups: dict[str, list[float]] = {}
    for row in rows:
        value = key(row)
        if value is not None:
            groups.setdefault(row["task"], []).append(value)
    return {task: fmean(values) for task, values in groups.items()}


def frozen_sentence(rows: list[dict]) -> str | None:
    """Pretext runs' frozen features against random init, the best one named."""
    pretext = [r for r in rows if r.get("task") not in (RANDOM_INIT, SUPERVISED, FINETUNE)]
    if not pretext:
        return None
    bases = [r["linear_probe"] for r in rows if r.get("task") == RANDOM_INIT and r.get("linear_probe") is not None]
    bases += [(r.get("baseline") or {}).get("linear_probe") for r in pretext if not bases]
    bases = [b for b in bases if b is not None]
    if not bases:
        return None
    base = fmean(bases)
    probes = _by_task(pretext, lambda r: r.get("linear_probe"))
    best = max(probes, key=probes.get)
    first = next(r for r in pretext if r["task"] == best)
    test = first.get("test_images")
    noise = noise_points(test) or 0.0
    rests = (
        f"{plural(first.get('steps') or 0, 'step')}, {format_flops(first.get('flops') or 0)}, "
        f"{plural(test or 0, 'test image')}: ±{noise:.1f} points by chance"
    )
    others = sorted((t for t in probes if t != best), key=probes.get, reverse=True)
    rest = "; " + ", ".join(f"{_name(t)} {_pct(probes[t])}" for t in others) if others else ""
    if 100 * (probes[best] - base) <= noise:
        return (
            f"No task's frozen features beat random init by more than chance here: {_name(best)} reaches "
            f"{_pct(probes[best])} on a linear probe against {_pct(base)} for the untrained network ({rests}){rest}."
        )
    return (
        f"{_name(best)}'s frozen features reach {_pct(probes[best])} on a linear probe, against {_pct(base)} for the same "
        f"network at random init ({rests}){rest}."
    )


def few_label_sentence(rows: list[dict]) -> str | None:
    """The best fine-tune at k labels per class against the same network trained from scratch on them."""
    tuned = [r for r in rows if r.get("task") == FINETUNE and r.get("finetune")]
    for k in sorted({r["finetune"].get("labels_per_class") for r in tuned}, key=lambda k: (k is None, k)):
        at_k = [r for r in tuned if r["finetune"].get("labels_per_class") == k]
        scratch = [r["finetune"]["accuracy"] for r in at_k if not r["finetune"].get("source_task")]
        sources = {r["finetune"]["source_task"]: r for r in at_k if r["finetune"].get("source_task")}
        if not scratch or not sources:
            continue
        best = max(sources.values(), key=lambda r: r["finetune"]["accuracy"])
        ft = best["finetune"]
        accuracy, reference = ft["accuracy"], fmean(scratch)
        draws = ft.get("draws") if isinstance(ft.get("draws"), int) else len(ft.get("values") or []) or 1
        test = ft.get("test_size") or best.get("test_images")
        noise = noise_points(test) or 0.0
        labels = labels_words(k)
        rests = f"{plural(draws, 'draw')}, {plural(test or 0, 'test image')}"
        head = f"With {labels}, {_name(ft['source_task'])}'s features fine-tuned reach {_pct(accuracy)} ({rests})"
        if 100 * (accuracy - reference) > noise:
            sentence = f"{head} where the same network trained from scratch reaches {_pct(reference)}."
        elif 100 * (reference - accuracy) > noise:
            sentence = f"{head}, below the same network trained from scratch ({_pct(reference)}): here pretraining did not pay off."
        else:
            sentence = (
                f"{head}, within chance of the same network trained from scratch ({_pct(reference)}): at this compute "
                "and on this data, pretraining did not pay off."
            )
        return sentence + probe_clause(ft, noise)
    return None


def probe_clause(ft: dict, noise: float) -> str:
    """What fine-tuning added to the frozen probe of its starting backbone on the same label draws."""
    probe = (ft.get("probe") or {}).get("median")
    if probe is None:
        return ""
    gain = 100 * (ft["accuracy"] - probe)
    if abs(gain) <= noise:
        verdict = "fine-tuning moved it by less than chance"
    else:
        verdict = f"fine-tuning {'added' if gain > 0 else 'lost'} {abs(gain):.1f} points"
    return f" Its frozen features alone (a linear probe on the same draws) reach {_pct(probe)}: {verdict}."


def comparison_lesson(rows: list[dict]) -> list[str]:
    """The comparison's finding in one or two sentences (empty when its runs cannot say anything yet).
    ``rows``: the results dicts of its finished runs, each with its ``task``."""
    return [s[0].upper() + s[1:] for s in (frozen_sentence(rows), few_label_sentence(rows)) if s]
