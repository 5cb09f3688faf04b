"""The whole training loop on the CPU, this tree against an earlier commit, alternating in one run.

    python benchmarks/loop_speed.py [--before main] [--tasks rotation,simclr,supervised] [--repeats 3]

Each measurement is a fresh process that trains ``Trainer(config).events()`` for a fixed number of epochs
on the CPU (same seed, same data) and reports images per training second and the wall time of the whole
``events()`` call (set-up, FLOP counting, probes included). The two trees take turns, so both see the
same machine load; medians are quoted.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, sys, time
from sslcore.data import load_dataset
from sslcore.train import TrainConfig, Trainer
task, epochs = sys.argv[1], float(sys.argv[2])
data = load_dataset("shapes", n=1000, size=32, seed=0)
start = time.perf_counter()
trainer = Trainer(TrainConfig(task=task, epochs=epochs, budget=None, n=1000, batch_size=128, device="cpu"), data)
steps = sum(e["kind"] == "step" for e in trainer.events())
wall = time.perf_counter() - start
print(json.dumps({"img_s": trainer.steps * 128 / trainer.train_seconds, "wall": wall, "steps": trainer.steps}))
"""


def measure(src: Path, task: str, epochs: float) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, task, str(epochs)], cwd=src, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="main", help="git commit or branch to compare with (the baseline)")
    parser.add_argument("--tasks", default="rotation,simclr,supervised")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", args.before], cwd=ROOT, capture_output=True, text=True)
    print(f"Machine: {machine()}")
    print(f"Baseline: {args.before} ({commit.stdout.strip()}); {args.epochs:g} epochs of 750 shapes at batch 128; medians of {args.repeats}\n")
    print("| task | steps | img/s before | img/s now | now / before | events() s before | events() s now |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as old:
        archive = subprocess.run(["git", "archive", args.before], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
        for task in args.tasks.split(","):
            runs = {"before": [], "now": []}
            for _ in range(args.repeats):
                runs["before"].append(measure(Path(old), task, args.epochs))
                runs["now"].append(measure(ROOT, task, args.epochs))
            med = {k: {m: statistics.median(r[m] for r in v) for m in ("img_s", "wall")} for k, v in runs.items()}
            print(
                f"| {task} | {runs['now'][0]['steps']} | {med['before']['img_s']:.0f} | {med['now']['img_s']:.0f} | "
                f"{med['now']['img_s'] / med['before']['img_s']:.2f}× | {med['before']['wall']:.1f} | {med['now']['wall']:.1f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
