"""Does a compute budget make a comparison independent of the machine's load?

    python benchmarks/compute_budget.py [--busy 2] [--compute 1.5T] [--wall-clock 30]

Runs the Home page's quick comparison (rotation, jigsaw, SimCLR and supervised, the same compute each)
twice with the same seed: once as the machine is, once with ``--busy`` extra processes spinning on the
CPU. Prints each run's steps, FLOPs, training seconds and probe accuracies side by side. With
``--wall-clock S`` it also runs the old way (S seconds per run) both ways, as the baseline.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine  # noqa: E402
from sslcore.flops import parse_flops  # noqa: E402
from sslcore.plans import QUICK_COMPUTE  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def compare(budget: list[str], data_dir: str) -> dict:
    cmd = [sys.executable, "-m", "sslcore", "compare", "--quick", "--seed", "0", "--json", *budget]
    env = {**os.environ, "PRETEXT_LAB_DATA_DIR": data_dir, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=True).stdout
    return json.loads(out)


def run(budget: list[str], busy: int, data_dir: str) -> tuple[dict, str]:
    """One comparison with ``busy`` CPU spinners alongside; its raw JSON is kept in $COMPUTE_BUDGET_SAVE."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        result = compare(budget, data_dir)
        load = os.getloadavg()[0]
        if os.environ.get("COMPUTE_BUDGET_SAVE"):
            Path(os.environ["COMPUTE_BUDGET_SAVE"], f"{budget[0].lstrip('-')}-busy{busy}.json").write_text(json.dumps(result))
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    return result, f"{load:.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", type=int, default=2, help="CPU-spinning processes during the second run")
    parser.add_argument("--compute", default=str(QUICK_COMPUTE), help="FLOPs per run (default: the quick comparison's)")
    parser.add_argument("--wall-clock", type=float, help="also run the old way: this many seconds per run")
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}; load average before: {os.getloadavg()[0]:.1f}\n")
    modes = [("compute", ["--compute", str(parse_flops(args.compute))])]
    if args.wall_clock:
        modes.append(("wall-clock", ["--wall-clock", "--budget", str(args.wall_clock)]))
    with tempfile.TemporaryDirectory() as data_dir:
        for name, budget in modes:
            quiet, quiet_load = run(budget, 0, data_dir)
            busy, busy_load = run(budget, args.busy, data_dir)
            print(f"### {name} budget ({' '.join(budget)}); load average at the end: {quiet_load} / {busy_load}")
            print("| run | steps as is / busy | TFLOP | train s as is / busy | linear probe as is / busy | Δ | kNN as is / busy |")
            print("|---|---|---:|---|---|---:|---|")
            for a, b in zip(quiet["runs"], busy["runs"]):
                delta = 100 * (b["linear_probe"] - a["linear_probe"])
                print(
                    f"| {a['task']} | {a['steps']} / {b['steps']} | {a['flops'] / 1e12:.2f} | "
                    f"{a['train_seconds']:.0f} / {b['train_seconds']:.0f} | {100 * a['linear_probe']:.1f}% / "
                    f"{100 * b['linear_probe']:.1f}% | {delta:+.1f} | {100 * a['knn']:.1f}% / {100 * b['knn']:.1f}% |"
                )
            base = quiet["baseline"]
            print(f"random init: linear probe {100 * base['linear_probe']:.1f}%, kNN {100 * base['knn']:.1f}%\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
