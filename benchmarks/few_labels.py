"""Where do pretext tasks pay off? Probe@k, fine-tune@k and supervised-from-scratch@k, and the factor table.

    python benchmarks/few_labels.py [--datasets shapes,corpus] [--tasks all] [--epochs 15]
                                    [--ks 1,5,10,all] [--json FILE]

For each dataset every task of its modality trains for the same number of epochs (equal steps, not equal
seconds: the machine may be shared, and a busy machine must change how long a run takes, not what it
learns), plus supervised training on all labels (the ceiling). Each run is then evaluated with k labels
per class (linear probe and kNN on frozen features, 5 stratified draws per k, medians), fine-tuned with
the recipe of sslcore/finetune.py (LP-FT; its length rule: epochs over the k labels, capped in steps; its
draws, the label curve's own, reported as median ± spread beside the frozen probe on the same draws), and set
against supervised from scratch at k: the same config from random init. Also the factor table (what each
representation keeps) against random init and raw pixels, and what the evaluation itself costs.
Prints Markdown for docs/benchmarks.md; --json keeps everything (written after every run).
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import machine, pct  # noqa: E402
from sslcore.data import dataset_modality  # noqa: E402
from sslcore.experiment import random_init_baseline, run_experiment  # noqa: E402
from sslcore.fewlabel import ALL, parse_labels_per_class  # noqa: E402
from sslcore.finetune import finetune_config, load_source  # noqa: E402
from sslcore.names import SCRATCH  # noqa: E402
from sslcore.tasks import list_tasks  # noqa: E402
from sslcore.train import SUPERVISED, TrainConfig, load_run_data  # noqa: E402


def point(result: dict, k) -> dict | None:
    return next((p for p in result["label_curve"]["points"] if p["k"] == k), None)


def timed_run(config, out, data, source=None) -> dict:
    cpu, wall = time.process_time(), time.perf_counter()
    result = run_experiment(config, out, data=data, embed="pca", source=source)
    result["cpu_seconds"], result["wall_seconds"] = time.process_time() - cpu, time.perf_counter() - wall
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="shapes,corpus")
    parser.add_argument("--tasks", default="all", help="all (the dataset's tasks) or a comma-separated list")
    parser.add_argument("--epochs", type=float, default=15.0, help="pretext training epochs (equal for every task)")
    parser.add_argument("--ks", default="1,5,10,all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: fair on a shared machine)")
    parser.add_argument("--json", help="write all results to this JSON file (after every run)")
    parser.add_argument("--no-references", action="store_true", help="skip supervised and from-scratch runs")
    parser.add_argument("--merge", help="with --report: comma-separated JSON files whose runs to add")
    parser.add_argument("--report", help="only print the tables of a --json file (e.g. of a run cut short)")
    parser.add_argument("--seeds-report", help="comma-separated --json files of the same runs at several seeds: "
                        "print each cell's median over the seeds and the verdicts the docs quote")
    args = parser.parse_args(argv)
    if args.seeds_report:
        seeds_report([json.loads(Path(f).read_text()) for f in args.seeds_report.split(",")], args.ks.split(","))
        return 0
    if args.report:
        merged = json.loads(Path(args.report).read_text())
        for extra in filter(None, (args.merge or "").split(",")):
            for dataset, record in json.loads(Path(extra).read_text()).items():
                for part in ("runs", "finetunes"):
                    merged.setdefault(dataset, record)[part].update(record[part])
        for dataset, record in merged.items():
            report(
                dataset,
                load_run_data(TrainConfig(dataset=dataset)),
                record,
                [parse_labels_per_class(k) for k in args.ks.split(",")],
                args,
            )
        return 0
    torch.set_num_threads(args.threads)
    ks = [parse_labels_per_class(k) for k in args.ks.split(",")]
    print(f"Machine: {machine()}")
    print(
        f"Pretext runs: {args.epochs:g} epochs each; fine-tunes: the recipe's length rule; seed {args.seed}"
    )
    everything = {}
    scratch = Path(tempfile.mkdtemp(prefix="few-labels-"))
    for dataset in args.datasets.split(","):
        tasks = (
            [t.name for t in list_tasks(dataset_modality(dataset))] if args.tasks == "all" else args.tasks.split(",")
        )
        base = TrainConfig(dataset=dataset, epochs=args.epochs, budget=None, seed=args.seed, device="cpu")
        data = load_run_data(base)
        baseline = random_init_baseline(base, data, scratch)
        record = everything[dataset] = {"baseline": baseline, "runs": {}, "finetunes": {}}

        def save():
            if args.json:
                Path(args.json).write_text(json.dumps(everything, indent=2, default=float))

        references = [] if args.no_references else [None, SUPERVISED]  # None: supervised from scratch (fine-tunes)
        for task in [*references, *tasks]:
            if task is not None:
                config = TrainConfig(
                    task=task, dataset=dataset, epochs=args.epochs, budget=None, seed=args.seed, device="cpu"
                )
                result = timed_run(config, scratch / task, data)
                record["runs"][task] = result
                print(
                    f"  {dataset}/{task}: probe {pct(result['linear_probe'])} ({result['steps']} steps, "
                    f"{result['cpu_seconds']:.0f} CPU s)",
                    file=sys.stderr,
                )
                save()
                if task == SUPERVISED:
                    continue
            name = task or SCRATCH
            source = load_source(scratch / task, task) if task else None
            for k in ks:
                source_config = (config if task else base).to_dict()  # its view: colorization's fine-tune sees grey
                tuned = finetune_config(source_config, "0" * 12 if task else None, k)
                result = timed_run(tuned, None, data, source)
                record["finetunes"].setdefault(name, {})[str(k or ALL)] = result
                print(f"    fine-tune {name} k={k or ALL}: {ft_cell(result)}", file=sys.stderr)
                save()
        report(dataset, data, record, ks, args)
    return 0


def ft_cell(result: dict) -> str:
    """'61.2 ±1.3 (probe 55.0)': the fine-tune's median and spread over its draws, the frozen probe on them."""
    tuned = result["finetune"]
    spread = (tuned.get("spread") or {}).get("std", 0.0)
    probe = tuned.get("probe")
    return f"{pct(tuned['accuracy'])} ±{100 * spread:.1f}" + (f" (probe {pct(probe['median'])})" if probe else "")


def report(dataset, data, record, ks, args) -> None:
    runs, tunes, baseline = record["runs"], record["finetunes"], record["baseline"]
    unit = "sentences" if data.modality == "text" else "images"
    any_run = next(iter(runs.values()))
    test_size = any_run["label_curve"]["test_size"]
    print(f"\n### {dataset} ({len(data)} {unit}, {len(data.class_names)} classes, test split {test_size})\n")
    labels = [str(k or ALL) for k in ks]
    print("Linear probe % at k labels per class (median of 5 draws; ± = spread) / fine-tune % at k:\n")
    print(
        "| run | steps | "
        + " | ".join(f"probe@{k}" for k in labels)
        + " | "
        + " | ".join(f"fine-tune@{k}" for k in labels)
        + " |"
    )
    print("|---|---:|" + "---:|" * (2 * len(labels)))
    rows = [("random init", baseline, None), *((t, r, tunes.get(t)) for t, r in runs.items() if t != SUPERVISED)]
    rows.append((SCRATCH, None, tunes.get(SCRATCH)))
    for name, result, tuned in rows:
        probes = []
        for k in ks:
            p = point(result, k or ALL) if result else None
            probes.append(
                "—" if p is None else f"{pct(p['linear_probe']['median'])} ±{100 * p['linear_probe']['std']:.1f}"
            )
        fts = [ft_cell(tuned[str(k or ALL)]) if tuned and str(k or ALL) in tuned else "—" for k in ks]
        steps = result.get("steps", 0) if result else 0
        print(f"| {name} | {steps} | " + " | ".join(probes) + " | " + " | ".join(fts) + " |")
    if SUPERVISED in runs:
        s = runs[SUPERVISED]
        print(
            f"| supervised, all labels (ceiling) | {s['steps']} | "
            + " | ".join(["—"] * (len(ks) - 1))
            + f" | {pct(s['linear_probe'])} | "
            + " | ".join(["—"] * len(ks))
            + " |"
        )
    ft_steps = sorted({r["steps"] for t in tunes.values() for r in t.values()})
    print(f"\nFine-tune steps per draw: {ft_steps}; kNN@k medians are in the JSON.")

    print(
        "\nFactor probes (accuracy for categorical factors, R² for continuous ones); runs as change vs random init:\n"
    )
    ref = baseline.get("factors", {}).get("factors", {})
    names = list(ref)
    print("| representation | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    print("| random init (absolute) | " + " | ".join(f"{ref[n]['score']:.2f}" for n in names) + " |")
    raw = baseline.get("raw_pixels", {}).get("factors", {}).get("factors")
    if raw:
        print("| raw pixels (absolute) | " + " | ".join(f"{raw[n]['score']:.2f}" for n in names) + " |")
    for task, r in runs.items():
        table = r.get("factors", {}).get("factors", {})
        print(
            f"| {task} | "
            + " | ".join(f"{table[n]['score'] - ref[n]['score']:+.2f}" for n in names if n in table)
            + " |"
        )

    every = [*runs.values(), *(r for t in tunes.values() for r in t.values())]
    every = [r for r in every if r.get("label_curve")]  # fine-tunes measure no label curve of their own
    curve = [r["label_curve"]["seconds"] for r in every]
    curve_cpu = [r["label_curve"].get("cpu_seconds", 0) for r in every]
    factors = [r["factors"]["seconds"] for r in every if "factors" in r]
    train_cpu = [r["cpu_seconds"] for r in runs.values()]
    print(
        f"\nCost: pretext training {statistics.median(train_cpu):.0f} CPU s median per run "
        f"({min(train_cpu):.0f}-{max(train_cpu):.0f}); label curve {statistics.median(curve):.2f} s wall median per run "
        f"(max {max(curve):.2f}), {statistics.median(curve_cpu):.2f} CPU s median (max {max(curve_cpu):.2f}); factor probes {statistics.median(factors) if factors else 0:.2f} s median."
    )


def seeds_report(records: list[dict], ks: list[str]) -> None:
    """Across seeds: probe@k and fine-tune@k (each seed's median over its draws), their median over the seeds,
    and per task whether it beats random init by more than the test set's noise, fine-tune@10 >= probe@10 and
    fine-tune@all >= supervised from scratch@all (on the medians over seeds)."""
    from sslcore.context import noise_points

    for dataset in dict.fromkeys(d for r in records for d in r):
        seeds = [r[dataset] for r in records if dataset in r]
        test = next(iter(seeds[0]["runs"].values()))["label_curve"]["test_size"]
        noise = noise_points(test) or 0.0
        tasks = [t for t in seeds[0]["runs"] if t != SUPERVISED]
        print(f"\n### {dataset}: {len(seeds)} seed(s), test split {test} (±{noise:.1f} points by chance)\n")
        print("Cells: median over seeds (each seed's value, itself the median over its label draws).\n")
        head = [f"probe@{k}" for k in ks] + [f"fine-tune@{k}" for k in ks]
        print("| run | steps | " + " | ".join(head) + " | beats random init | ft@10 ≥ probe@10 on the same draws | ft@all ≥ scratch@all |")
        print("|---|---:|" + "---:|" * len(head) + "---|---|---|")

        def cell(values):
            values = [v for v in values if v is not None]
            if not values:
                return None, "—"
            med = statistics.median(values)
            return med, f"{pct(med)} ({' / '.join(f'{100 * v:.1f}' for v in values)})"

        def probe_at(result, k):
            p = point(result, k) if result else None
            return p["linear_probe"]["median"] if p else None

        def tune_at(record, name, k):
            r = record["finetunes"].get(name, {}).get(k)
            return r["finetune"]["accuracy"] if r else None

        def start_probe_at(record, name, k):  # the frozen probe on the fine-tune's own draws
            r = record["finetunes"].get(name, {}).get(k)
            return (r["finetune"].get("probe") or {}).get("median") if r else None

        scratch_all, _ = cell([tune_at(r, SCRATCH, ALL) for r in seeds])
        base_all, _ = cell([probe_at(r["baseline"], ALL) for r in seeds])
        for name in [*tasks, SCRATCH]:
            probes = [cell([probe_at(r["runs"].get(name), parse_labels_per_class(k) or ALL) for r in seeds]) for k in ks]
            tunes = [cell([tune_at(r, name, k) for r in seeds]) for k in ks]
            steps = seeds[0]["runs"][name]["steps"] if name in seeds[0]["runs"] else 0
            verdicts = ["—", "—", "—"]
            if name != SCRATCH:
                by_k = dict(zip(ks, zip(probes, tunes)))
                p_all = by_k.get(ALL, ((None, ""), None))[0][0]
                if p_all is not None and base_all is not None:
                    verdicts[0] = "yes" if 100 * (p_all - base_all) > noise else "no"
                same, same_text = cell([start_probe_at(r, name, "10") for r in seeds])
                if "10" in by_k and None not in (same, by_k["10"][1][0]):
                    verdicts[1] = ("yes" if by_k["10"][1][0] >= same else "no") + f" (probe on its draws {same_text})"
                if ALL in by_k and None not in (by_k[ALL][1][0], scratch_all):
                    verdicts[2] = "yes" if by_k[ALL][1][0] >= scratch_all else "no"
            print(f"| {name} | {steps} | " + " | ".join(c[1] for c in [*probes, *tunes]) + " | " + " | ".join(verdicts) + " |")
        base_cells = [cell([probe_at(r["baseline"], parse_labels_per_class(k) or ALL) for r in seeds])[1] for k in ks]
        print("| random init | 0 | " + " | ".join(base_cells) + " |" + " — |" * len(ks) + " — | — | — |")


if __name__ == "__main__":
    sys.exit(main())
