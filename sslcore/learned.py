"""Plain data for "What did it learn?": the few-label curve, probe vs fine-tune at k, the factor map.

The Results page draws these rows and the CSV export writes the same rows, so what a person downloads is
what they saw. No Streamlit here.
"""

from __future__ import annotations

import csv
import io
import json

from sslcore.fewlabel import ALL
from sslcore.finetune import INHERITED
from sslcore.names import SCRATCH, run_labels
from sslcore.runs.store import Run
from sslcore.train import FINETUNE, RANDOM_INIT, SUPERVISED

CSV_COLUMNS = ("chart", "run", "id", "task", "labels_per_class", "metric", "value", "spread", "reference", "steps", "test_size")


def is_source(run: Run) -> bool:
    """Runs whose features the few-label view reads (pretext tasks and the supervised ceiling)."""
    return run.task not in (FINETUNE, RANDOM_INIT)


def finetunes_of(run_id: str | None, everything: list[Run]) -> dict:
    """{k or "all": the newest finished fine-tune of ``run_id`` (None: supervised from scratch) at that k}."""
    out = {}
    for run in sorted(everything, key=lambda r: r.created):
        if run.task == FINETUNE and run.status == "succeeded" and run.config.get("init_from") == run_id:
            out[run.config.get("labels_per_class") or ALL] = run
    return out


def scratch_runs(runs: list[Run], everything: list[Run]) -> dict:
    """Supervised-from-scratch fine-tunes on the same data, split and backbone as the compared runs."""
    keys = {_data_key(r.config) for r in runs}
    return {k: r for k, r in finetunes_of(None, everything).items() if _data_key(r.config) in keys}


def _data_key(config: dict) -> tuple:
    """What a fine-tune inherits from its source (data, split, backbone), but where it ran."""
    same = tuple(config.get(k) for k in INHERITED if k not in ("backbone_args", "device"))
    return (*same, json.dumps(config.get("backbone_args") or {}, sort_keys=True))  # {} and absent: the defaults


def curve_rows(runs: list[Run], everything: list[Run], metric: str = "linear_probe") -> list[dict]:
    """Accuracy against labels per class: one row per (run, k), random init, and supervised from scratch."""
    rows, seen_baseline = [], False
    names = run_labels(runs, _index(everything))
    for run in runs:
        if not is_source(run) or "label_curve" not in (run.results or {}):
            continue
        curve = run.results["label_curve"]
        for point in curve["points"]:
            rows.append(_curve_row(names[run.id], run, point, metric, curve, run.results.get("steps")))
        base = (run.results.get("baseline") or {}).get("label_curve")
        if base and not seen_baseline:
            seen_baseline = True
            for point in base["points"]:
                rows.append(_curve_row("random init", None, point, metric, base, 0, task=RANDOM_INIT))
    for k, run in scratch_runs(runs, everything).items():
        tuned = run.results["finetune"]
        rows.append(
            {
                "chart": "labels per class",
                "run": SCRATCH,
                "id": run.id,
                "task": SCRATCH,
                "labels_per_class": k,
                "labels": tuned["labels"],
                "metric": "fine-tuned accuracy",
                "value": tuned["accuracy"],
                "spread": None,
                "low": None,
                "high": None,
                "reference": "same recipe as fine-tuning, from random init",
                "steps": run.results.get("steps"),
                "test_size": tuned["test_size"],
            }
        )
    return rows


def _curve_row(name, run, point, metric, curve, steps, task=None) -> dict:
    s = point[metric]
    return {
        "chart": "labels per class",
        "run": name,
        "id": run.id if run else "",
        "task": task or run.task,
        "labels_per_class": point["k"],
        "labels": point["labels"],
        "metric": "linear probe" if metric == "linear_probe" else "kNN",
        "value": s["median"],
        "spread": s["std"],
        "low": s["min"],
        "high": s["max"],
        "reference": f"median of {point['draws']} draws",
        "steps": steps,
        "test_size": curve["test_size"],
    }


def ceiling(runs: list[Run], metric: str = "linear_probe") -> dict | None:
    """The supervised-on-all-labels run among the compared ones (the ceiling line), if any, read out with
    ``metric`` (its linear probe or its kNN: the read-out the chart shows)."""
    run = next((r for r in runs if r.task == SUPERVISED and r.config.get("labels_per_class") is None), None)
    if run is None or run.results.get(metric) is None:
        return None
    return {"run": run_labels(runs)[run.id], "metric": metric, "value": run.results[metric], "steps": run.results["steps"]}


def _index(everything: list[Run]) -> dict[str, Run]:
    """{id: run}: where a fine-tune's source is found when it is not among the compared runs."""
    return {r.id: r for r in everything}


def finetune_ks(runs: list[Run], everything: list[Run]) -> list:
    """The k at which at least one compared run (or supervised from scratch) has been fine-tuned."""
    ks = set(scratch_runs(runs, everything))
    for run in runs:
        ks |= set(finetunes_of(run.id, everything))
    return k_choices(ks)


def k_choices(ks) -> list:
    """Labels per class, each once, in ascending order, "all" last: the order a k picker offers them in."""
    return sorted(set(ks), key=lambda k: float("inf") if k == ALL else k)


def _tuned(run: Run | None) -> dict:
    """A fine-tune's median, spread and draws (a fine-tune from before draws: its one number, no spread)."""
    if run is None:
        return {"finetune": None, "finetune_spread": None, "finetune_low": None, "finetune_high": None, "draws": None}
    tuned = run.results["finetune"]
    spread = tuned.get("spread") or {}
    return {
        "finetune": tuned["accuracy"],
        "finetune_spread": spread.get("std"),
        "finetune_low": spread.get("min"),
        "finetune_high": spread.get("max"),
        "draws": tuned.get("draws", 1),
    }


def bar_rows(runs: list[Run], everything: list[Run], k) -> list[dict]:
    """Probe@k beside fine-tune@k (medians over the same draws, with their spread) for every compared run,
    and supervised from scratch@k. The probe is the fine-tune's own frozen start on its draws when it has
    one, else the label curve's median."""
    rows = []
    names = run_labels(runs, _index(everything))
    for run in runs:
        if not is_source(run) or run.task == SUPERVISED:
            continue
        point = next((p for p in run.results.get("label_curve", {}).get("points", []) if p["k"] == k), None)
        tuned = finetunes_of(run.id, everything).get(k)
        probe = (tuned.results["finetune"].get("probe") if tuned else None) or (point["linear_probe"] if point else None)
        rows.append(
            {
                "chart": "probe vs fine-tune",
                "run": names[run.id],
                "id": run.id,
                "task": run.task,
                "labels_per_class": k,
                "probe": probe["median"] if probe else None,
                "probe_spread": probe["std"] if probe else None,
                **_tuned(tuned),
                "finetune_id": tuned.id if tuned else None,
                "steps": tuned.results.get("steps") if tuned else None,
                "test_size": run.results.get("label_curve", {}).get("test_size"),
            }
        )
    scratch = scratch_runs(runs, everything).get(k)
    if scratch is not None:
        rows.append(
            {
                "chart": "probe vs fine-tune",
                "run": SCRATCH,
                "id": scratch.id,
                "task": SCRATCH,
                "labels_per_class": k,
                "probe": None,
                "probe_spread": None,
                **_tuned(scratch),
                "finetune_id": scratch.id,
                "steps": scratch.results.get("steps"),
                "test_size": scratch.results["finetune"]["test_size"],
            }
        )
    return rows


def factor_rows(runs: list[Run]) -> tuple[list[str], list[dict]]:
    """(factor names, rows): each compared run's factor scores, absolute and relative to random init,
    with random init and raw pixels as reference rows."""
    rows, names = [], []
    references_done = False
    labels = run_labels(runs)
    for run in runs:
        table = (run.results or {}).get("factors", {}).get("factors")
        base = (run.results or {}).get("baseline") or {}
        ref = base.get("factors", {}).get("factors")
        if not table or not ref or run.task == RANDOM_INIT:
            continue
        names = names or list(ref)
        if not references_done:
            references_done = True
            rows.append(_factor_row("random init", "", RANDOM_INIT, ref, ref))
            raw = base.get("raw_pixels", {}).get("factors", {}).get("factors")
            if raw:
                rows.append(_factor_row("raw pixels", "", "raw pixels", raw, ref))
        rows.append(_factor_row(labels[run.id], run.id, run.task, table, ref))
    return names, rows


def _factor_row(name, run_id, task, table, ref) -> dict:
    return {
        "run": name,
        "id": run_id,
        "task": task,
        "scores": {n: v["score"] for n, v in table.items()},
        "relative": {n: table[n]["score"] - ref[n]["score"] for n in table if n in ref},
        "metrics": {n: v["metric"] for n, v in table.items()},
    }


def learned_csv(runs: list[Run], everything: list[Run], k=None) -> str:
    """Every number of the three charts as long-format CSV rows (chart, run, k, metric, value...)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(curve_rows(runs, everything))
    writer.writerows(r for r in curve_rows(runs, everything, "knn") if r["task"] != SCRATCH)
    for kk in [k] if k is not None else finetune_ks(runs, everything):
        for row in bar_rows(runs, everything, kk):
            spreads = {"probe": row["probe_spread"], "finetune": row["finetune_spread"]}  # the row's two numbers
            for metric, spread in spreads.items():
                if row[metric] is not None:
                    writer.writerow({**row, "metric": metric, "value": row[metric], "spread": spread})
    names, rows = factor_rows(runs)
    for row in rows:
        for n in names:
            if n in row["scores"]:
                writer.writerow(
                    {
                        "chart": "factors",
                        "run": row["run"],
                        "id": row["id"],
                        "task": row["task"],
                        "metric": f"{n} ({row['metrics'][n]})",
                        "value": row["scores"][n],
                        "reference": f"{row['relative'][n]:+.4f} vs random init",
                    }
                )
    return out.getvalue()
