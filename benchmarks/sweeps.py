"""One knob sweep per image task family on shapes: where is the sweet spot, and where does the task become a shortcut?

    python benchmarks/sweeps.py [--epochs 6] [--n 2000] [--seeds 1] [--families all] [--ends] [--json FILE]

Families: classification (rotation angles, jigsaw gap), reconstruction (masked-image ratio), contrastive
(SimCLR colour strength) and non-contrastive (SimSiam crop size). Every run of a sweep trains for the same
number of steps on the same data (equal steps: the same images seen; ``--compute`` gives every run the same
FLOPs instead where the trainer supports it), then is evaluated like every run (linear probe and kNN on
the held-out split, factor probes where recorded). Prints Markdown for docs/benchmarks.md.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, pct  # noqa: E402
from sslcore.experiment import random_init_baseline, run_experiment  # noqa: E402
from sslcore.sweeps import reading, sweep_configs, sweep_points  # noqa: E402
from sslcore.train import TrainConfig, load_run_data  # noqa: E402

SWEEPS = {  # family -> (task, knob, values, fixed params)
    "classification (rotation)": ("rotation", "angles", [2, 4], {"all_rotations": False}),
    "classification (jigsaw)": ("jigsaw", "gap", [0, 2, 4], {"jitter": False}),
    "reconstruction (masked image)": ("masked_image", "mask_ratio", [0.25, 0.5, 0.75, 0.9], {}),
    "contrastive (SimCLR)": ("simclr", "color_strength", [0.0, 0.5, 1.0], {"grayscale_p": 0.0}),
    "non-contrastive (SimSiam)": ("simsiam", "crop_min", [0.2, 0.6, 1.0], {}),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=float, default=6.0, help="equal steps: epochs of the training split per run")
    parser.add_argument("--compute", type=float, help="equal compute instead: FLOPs per run (needs compute budgets)")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--families", default="all", help=f"all or a comma-separated subset of: {', '.join(SWEEPS)}")
    parser.add_argument(
        "--ends", action="store_true", help="only the first and last value of each sweep (a busy machine)"
    )
    parser.add_argument("--json", help="also write every point to this JSON file")
    args = parser.parse_args(argv)
    families = list(SWEEPS) if args.families == "all" else [f.strip() for f in args.families.split(",")]
    budget = {"compute": args.compute, "budget": None} if args.compute else {"epochs": args.epochs, "budget": None}
    base = dict(dataset="shapes", n=args.n, batch_size=args.batch_size, device="cpu", seed=0, **budget)
    data = load_run_data(TrainConfig(task="rotation", **base))
    baseline = random_init_baseline(TrainConfig(task="rotation", **base), data)
    how = f"{args.compute:.3g} FLOPs of training per run" if args.compute else f"{args.epochs:g} epochs per run"
    print(
        f"Machine: {machine()}\nShapes, n={args.n} ({len(data)} images, 25% held out), batch {args.batch_size}, {how}, "
        f"{args.seeds} seed(s) (medians). Random init: linear probe {pct(baseline['linear_probe'])}%, kNN {pct(baseline['knn'])}%."
    )
    everything = {}
    for family in families:
        task, knob, values, fixed = SWEEPS[family]
        values = [values[0], values[-1]] if args.ends else values
        configs = sweep_configs(TrainConfig(task=task, params=fixed, **base), knob, values, args.seeds)
        runs, tick = [], time.perf_counter()
        for config in configs:
            results = run_experiment(config, data=data, embed="pca")
            runs.append(SimpleNamespace(task=task, config=config.to_dict(), results=results))
            print(
                f"  {task} {knob}={config.params[knob]}: probe {pct(results['linear_probe'])} ({results['steps']} steps, "
                f"{results['train_seconds']:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        points = sweep_points(runs, knob)
        everything[family] = {
            "task": task,
            "knob": knob,
            "fixed": fixed,
            "points": points,
            "reading": reading(points, knob),
        }
        factor_names = sorted({n for p in points for n in p["factors"]} - {"class"})
        print(
            f"\n#### {family}: {task}, {knob} over {', '.join(map(str, values))}"
            + (f" ({', '.join(f'{k}={v}' for k, v in fixed.items())})" if fixed else "")
            + "\n"
        )
        print(
            f"| {knob} | pretext metric | pretext (0 chance, 100 solved) | linear probe % | kNN % | steps | "
            + "".join(f"{n} | " for n in factor_names)
        )
        print("|---|---:|---:|---:|---:|---:|" + "---:|" * len(factor_names))
        for p in points:
            metric = "—" if p["pretext_metric"] is None else f"{p['pretext_metric']:.3f}"
            score = "—" if p["pretext_score"] is None else f"{100 * p['pretext_score']:.0f}"
            factors = "".join(f"{p['factors'].get(n, 0) or 0:.2f} | " for n in factor_names)
            print(
                f"| {p['value']} | {metric} | {score} | {pct(p['linear_probe'])} | {pct(p['knn'])} | {p['steps']:.0f} | {factors}"
            )
        print(f"\n{everything[family]['reading']} ({time.perf_counter() - tick:.0f} s for the sweep.)")
        sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps({"baseline": baseline, "sweeps": everything}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
