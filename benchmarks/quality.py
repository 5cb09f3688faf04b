"""Does each pretext task learn something useful in a short CPU budget? Honest numbers, same budget each.

    python benchmarks/quality.py [--datasets shapes,digits] [--tasks all] [--budget 60] [--json FILE]
    python benchmarks/quality.py --datasets corpus   # the text tasks on the bundled corpus

For each dataset: every task of its modality (image or text) and the supervised reference, each trained for ``--budget`` seconds
with default settings, then evaluated on the frozen backbone (linear probe and kNN on the held-out
split) next to the random-init baseline; plus each run's downstream kNN curve over training time.
Prints Markdown for docs/benchmarks.md.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, pct  # noqa: E402
from sslcore.data import dataset_modality  # noqa: E402
from sslcore.experiment import random_init_baseline, run_experiment  # noqa: E402
from sslcore.tasks import list_tasks  # noqa: E402
from sslcore.train import SUPERVISED, TrainConfig, load_run_data  # noqa: E402


def curve_at(curve: list[dict], seconds: float) -> float | None:
    """kNN accuracy of the last probe taken at or before ``seconds`` of training."""
    before = [p["knn"] for p in curve if p["elapsed"] <= seconds + 1e-6]
    return before[-1] if before else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="shapes,digits")
    parser.add_argument("--tasks", default="all", help="all (the dataset's image or text tasks) or a comma-separated list")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write all results to this JSON file")
    args = parser.parse_args(argv)
    marks = [round(args.budget * f) for f in (0, 0.25, 0.5, 0.75, 1.0)]
    everything = {}
    print(f"Machine: {machine()}\nBudget: {args.budget:g} s of training per run, default settings, seed {args.seed}.")
    for dataset in args.datasets.split(","):
        if args.tasks == "all":
            tasks = [*(t.name for t in list_tasks(dataset_modality(dataset))), SUPERVISED]
        else:
            tasks = args.tasks.split(",")
        base_config = TrainConfig(dataset=dataset, budget=args.budget, seed=args.seed, device="cpu")
        data = load_run_data(base_config)
        baseline = random_init_baseline(base_config, data)
        runs = []
        for task in tasks:
            config = TrainConfig(task=task, dataset=dataset, budget=args.budget, seed=args.seed, device="cpu")
            result = run_experiment(config, data=data, embed="pca")
            runs.append(result)
            print(f"  {dataset}/{task}: probe {pct(result['linear_probe'])} kNN {pct(result['knn'])}", file=sys.stderr)
        everything[dataset] = {"baseline": baseline, "runs": runs}
        unit = "sentences" if data.modality == "text" else "images"
        print(f"\n### {dataset} ({len(data)} {unit}, {len(data.class_names)} classes)\n")
        print("| run | pretext metric (final) | linear probe % | vs random init | kNN % | steps |")
        print("|---|---|---:|---:|---:|---:|")
        print(f"| random init | — | {pct(baseline['linear_probe'])} | — | {pct(baseline['knn'])} | 0 |")
        for r in runs:
            metric = "—" if r["pretext_metric"] is None else f"{r['metric_label']}: {r['pretext_metric']:.3f}"
            gain = 100 * (r["linear_probe"] - baseline["linear_probe"])
            print(f"| {r['task']} | {metric} | {pct(r['linear_probe'])} | {gain:+.1f} | {pct(r['knn'])} | {r['steps']} |")
        print("\nDownstream kNN % (held-out probe subset) after t seconds of training:\n")
        print("| run | " + " | ".join(f"{m} s" for m in marks) + " |")
        print("|---|" + "---:|" * len(marks))
        for r in runs:
            print(f"| {r['task']} | " + " | ".join(pct(curve_at(r["probe_curve"], m)) for m in marks) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
