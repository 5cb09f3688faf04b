"""bf16 autocast against float32 on the CPU: the step speed-up, and probe accuracy at equal compute.

    python benchmarks/precision.py [--repeats 5] [--seeds 0,1,2] [--steps 10] [--warmup 2]
                                   [--resnet-batch 32] [--resnet-steps 2] [--threads N] [--quick] [--json]

Part 1, step speed: each run of the quick comparison (``sslcore.plans.quick_runs``: jigsaw, relative
position, SimCLR at batch 64, supervised) and supervised on the ``resnet18`` backbone (at a smaller batch:
its step is ~40x the small CNN's) trains a few steps through ``Trainer.events()`` in fp32 and in bf16. The
first ``--warmup`` steps of each trainer are not timed; a repeat's time per step is the training seconds of
the rest (``Trainer.train_seconds``: probes and progress reports excluded) over their count. fp32 and bf16
repeats are interleaved, the order flipped every repeat (fp32, bf16, bf16, fp32, ...), so machine load hits
both alike; the table gives the median over the repeats (lowest–highest) and fp32 / bf16 of the medians.

Part 2, equal compute: every quick run of each seed goes through ``run_experiment`` in fp32 and in bf16
(same data, split, initial weights and batches; the seed's dataset loaded once, as ``compare`` does). The
steps must be identical in both formats (a compute budget is a number of steps; asserted). Per task: the
linear probe and kNN of each seed, the median and seed spread (highest − lowest) per format, the
difference of the medians, and "within seed spread" when |Δ median| ≤ the larger of the two spreads. The
random-init baseline's probe per seed for context. The runs' caches (baselines, counted FLOPs) go to a
temporary folder, and the 2-D maps use PCA, not t-SNE (the map does not change any accuracy).

On a machine shared with other jobs, ``--threads 1`` times more steadily than two threads fighting for two
cores (a descheduled thread stalls the other at every parallel region). Prints Markdown for docs/benchmarks.md (``--json``: the same numbers as one JSON object).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import machine, pct  # noqa: E402
from sslcore.experiment import run_experiment  # noqa: E402
from sslcore.kinds import SUPERVISED  # noqa: E402
from sslcore.plans import QUICK_COMPUTE, quick_runs  # noqa: E402
from sslcore.precision import cpu_has_native_bf16, resolve_precision  # noqa: E402
from sslcore.train import TrainConfig, Trainer, load_run_data  # noqa: E402

FORMATS = ("fp32", "bf16")
RESNET = "resnet18"


def with_precision(config: TrainConfig, precision: str, **changes) -> TrainConfig:
    return dataclasses.replace(config, precision=precision, **changes).validate()


def timing_config(config: TrainConfig, steps: int) -> TrainConfig:
    """``config`` cut to ``steps`` steps (an epoch budget capped in steps), everything else unchanged."""
    return dataclasses.replace(config, compute=None, budget=None, epochs=10_000.0, max_steps=steps, probe_points=0)


def seconds_per_step(config: TrainConfig, data, warmup: int) -> float:
    """Training seconds per step of ``config``'s steps after the first ``warmup`` (no probes)."""
    trainer = Trainer(config, data)
    trainer.probing = False
    elapsed = [e["elapsed"] for e in trainer.events() if e["kind"] == "step"]
    assert trainer.device.type == "cpu" and len(elapsed) == trainer.steps == config.max_steps, "one step event per CPU step"
    timed = len(elapsed) - warmup
    return (elapsed[-1] - elapsed[warmup - 1]) / timed if warmup else elapsed[-1] / timed


def step_speed(label: str, config: TrainConfig, data, repeats: int, steps: int, warmup: int) -> dict:
    times = {p: [] for p in FORMATS}
    for r in range(repeats):
        for precision in FORMATS if r % 2 == 0 else FORMATS[::-1]:
            cut = timing_config(with_precision(config, precision), warmup + steps)
            times[precision].append(seconds_per_step(cut, data, warmup))
    med = {p: statistics.median(times[p]) for p in FORMATS}
    row = {"run": label, "batch": config.batch_size, "steps": steps, "ms": {p: [1000 * t for t in times[p]] for p in FORMATS},
           "median_ms": {p: 1000 * med[p] for p in FORMATS}, "ratio": med["fp32"] / med["bf16"]}
    print(f"  speed {label}: fp32 {row['median_ms']['fp32']:.0f} ms, bf16 {row['median_ms']['bf16']:.0f} ms, "
          f"{row['ratio']:.2f}x", file=sys.stderr)
    return row


def spread(values: list[float]) -> float:
    return max(values) - min(values)


def accuracy_runs(seeds: list[int], tasks: int, scratch: str) -> tuple[list[dict], dict]:
    """(one record per seed, task and format, the baseline's probe and kNN per seed)."""
    records, baseline = [], {}
    for seed in seeds:
        runs = quick_runs(seed)[:tasks]
        data = load_run_data(runs[0])  # one dataset for all tasks of a seed, as compare does
        for config in runs:
            for precision in FORMATS:
                tick = time.perf_counter()
                res = run_experiment(with_precision(config, precision), None, data=data, data_dir=scratch, embed="pca", label_ks=())
                assert res["status"] == "finished" and res["precision"] == precision, (res["status"], res["precision"])
                assert not res["under_budget"], f"{config.task} {precision} seed {seed} hit the wall-clock cap"
                records.append({"task": config.task, "seed": seed, "precision": precision, "steps": res["steps"],
                                "flops": res["flops"], "linear_probe": res["linear_probe"], "knn": res["knn"],
                                "train_seconds": res["train_seconds"]})
                baseline[seed] = {"linear_probe": res["baseline"]["linear_probe"], "knn": res["baseline"]["knn"]}
                print(f"  seed {seed} {config.task} {precision}: {res['steps']} steps, probe {pct(res['linear_probe'])}, "
                      f"kNN {pct(res['knn'])}, {res['train_seconds']:.1f} s training, {time.perf_counter() - tick:.0f} s in all",
                      file=sys.stderr)
    return records, baseline


def summarise(records: list[dict], seeds: list[int]) -> list[dict]:
    rows = []
    for task in dict.fromkeys(r["task"] for r in records):
        mine = {(r["seed"], r["precision"]): r for r in records if r["task"] == task}
        for seed in seeds:  # equal compute: the same steps in either format
            fp32, bf16 = mine[(seed, "fp32")], mine[(seed, "bf16")]
            assert fp32["steps"] == bf16["steps"] and fp32["flops"] == bf16["flops"], (task, seed, fp32["steps"], bf16["steps"])
        for metric in ("linear_probe", "knn"):
            per = {p: [mine[(s, p)][metric] for s in seeds] for p in FORMATS}
            med = {p: statistics.median(per[p]) for p in FORMATS}
            spreads = {p: spread(per[p]) for p in FORMATS}
            delta = med["bf16"] - med["fp32"]
            rows.append({
                "task": task, "metric": metric, "steps": [mine[(s, "fp32")]["steps"] for s in seeds],
                "values": per, "median": med, "spread": spreads, "delta": delta,
                "within": abs(delta) <= max(spreads.values()) + 1e-12 if len(seeds) > 1 else None,  # one seed: no spread
                "train_seconds": {p: statistics.median(mine[(s, p)]["train_seconds"] for s in seeds) for p in FORMATS},
            })
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats per format (interleaved)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per repeat (quick runs)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps at the start of every repeat")
    parser.add_argument("--resnet-batch", type=int, default=32)
    parser.add_argument("--resnet-steps", type=int, default=2, help="timed steps per repeat (resnet18; 1 warm-up step)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own; 1 is steadier on a busy machine)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 repeat, 1 seed, 2 tasks")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    tasks = 2 if args.quick else len(quick_runs(0))
    repeats = 1 if args.quick else args.repeats
    seeds = [int(s) for s in args.seeds.split(",")][: 1 if args.quick else None]
    command = "python benchmarks/precision.py " + " ".join(argv if argv is not None else sys.argv[1:])
    started = time.perf_counter()

    runs = quick_runs(seeds[0])[:tasks]
    data = load_run_data(runs[0])
    speed = [step_speed(c.task, c, data, repeats, args.steps, args.warmup) for c in runs]
    supervised = next(c for c in quick_runs(seeds[0]) if c.task == SUPERVISED)
    resnet = dataclasses.replace(supervised, backbone=RESNET, batch_size=args.resnet_batch).validate()
    speed.append(step_speed(f"{SUPERVISED}, {RESNET}", resnet, data, repeats, args.resnet_steps, 1))
    speed_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="pretext-lab-precision-") as scratch:
        records, baseline = accuracy_runs(seeds, tasks, scratch)
    rows = summarise(records, seeds)
    total_s = time.perf_counter() - started
    native = cpu_has_native_bf16()

    if args.json:
        print(json.dumps({"machine": machine(), "command": command, "threads": torch.get_num_threads(),
                          "native_bf16": native, "speed": speed, "records": records, "accuracy": rows,
                          "baseline": baseline, "speed_s": speed_s, "total_s": total_s}, default=float))
        return 0
    print(f"Machine: {machine()}\nCommand: `{command}`\n")
    print(f"torch threads: {torch.get_num_threads()}; cpu_has_native_bf16(): {native}; "
          f"precision \"auto\" resolves to {resolve_precision('auto', torch.device('cpu'))} on the CPU.\n")
    print(f"### Step speed (ms per training step; median of {repeats} interleaved repeats, lowest–highest)\n")
    print(f"Quick runs: {args.steps} timed steps after {args.warmup} warm-up steps per repeat; {RESNET}: "
          f"{args.resnet_steps} after 1. Training seconds only (no probes).\n")
    print("| run | batch | fp32 ms/step | bf16 ms/step | fp32 / bf16 |")
    print("|---|---:|---:|---:|---:|")
    for r in speed:
        cells = [f"{r['median_ms'][p]:.0f} ({min(r['ms'][p]):.0f}–{max(r['ms'][p]):.0f})" for p in FORMATS]
        print(f"| {r['run']} | {r['batch']} | {cells[0]} | {cells[1]} | {r['ratio']:.2f}× |")

    seed_words = ", ".join(str(s) for s in seeds)
    print(f"\n### Equal compute ({QUICK_COMPUTE / 1e12:g} TFLOP per run, the quick comparison's runs): test accuracy %, seeds {seed_words}\n")
    print("Per format: each seed's accuracy, then median [seed spread = highest − lowest]. Δ = bf16 median − fp32 "
          "median (points); within seed spread when |Δ| ≤ the larger spread. Training s: median over the seeds.\n")
    print("| task | steps | metric | fp32 per seed | fp32 median [spread] | bf16 per seed | bf16 median [spread] | Δ | verdict | training s fp32 / bf16 |")
    print("|---|---:|---|---|---:|---|---:|---:|---|---:|")
    for r in rows:
        per = {p: " / ".join(pct(v) for v in r["values"][p]) for p in FORMATS}
        meds = {p: f"{pct(r['median'][p])} [{100 * r['spread'][p]:.1f}]" for p in FORMATS}
        steps = "/".join(str(s) for s in dict.fromkeys(r["steps"]))
        verdict = "n/a (one seed)" if r["within"] is None else "within seed spread" if r["within"] else "**beyond seed spread**"
        secs = f"{r['train_seconds']['fp32']:.1f} / {r['train_seconds']['bf16']:.1f}"
        print(f"| {r['task']} | {steps} | {'probe' if r['metric'] == 'linear_probe' else 'kNN'} | {per['fp32']} | {meds['fp32']} | "
              f"{per['bf16']} | {meds['bf16']} | {100 * r['delta']:+.1f} | {verdict} | {secs} |")
    for metric in ("linear_probe", "knn"):
        values = [baseline[s][metric] for s in seeds]
        name = "probe" if metric == "linear_probe" else "kNN"
        print(f"| random init (untrained) | 0 | {name} | {' / '.join(pct(v) for v in values)} | "
              f"{pct(statistics.median(values))} [{100 * spread(values):.1f}] | — | — | — | — | — |")
    print(f"\nTotal {total_s:.0f} s wall ({speed_s:.0f} s of it step timing). The machine is shared: timings are noisy.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
