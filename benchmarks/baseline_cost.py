"""What a random-init baseline costs when it is not cached: the whole evaluation of an untrained network.

Every comparison on a built-in dataset computes it once (then reads it from the cache); a comparison on the
user's own files computes it for every run's result, so its cost is part of every such run. Measured as CPU
seconds (what it costs on an idle machine) and wall seconds, median of the repeats, each repeat in a fresh
cache folder. Compare two trees by running this script in each, alternating:

    python benchmarks/baseline_cost.py --datasets shapes,digits --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine  # noqa: E402
from sslcore.experiment import random_init_baseline  # noqa: E402
from sslcore.train import TrainConfig, load_run_data  # noqa: E402


def measure(dataset: str, repeats: int) -> dict:
    config = TrainConfig(task="rotation", dataset=dataset).validate()
    data = load_run_data(config)
    cpu, wall = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="pretext-lab-baseline-") as scratch:
            c, w = time.process_time(), time.perf_counter()
            random_init_baseline(config, data, scratch)
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
    return {"dataset": dataset, "cpu_s": statistics.median(cpu), "wall_s": statistics.median(wall), "repeats": repeats}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="shapes,digits")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [measure(name.strip(), args.repeats) for name in args.datasets.split(",") if name.strip()]
    if args.json:
        print(json.dumps({"machine": machine(), "rows": rows}))
    else:
        print(machine())
        for r in rows:
            print(f"{r['dataset']:<10} {r['cpu_s']:6.2f} CPU s  {r['wall_s']:6.2f} wall s  (median of {r['repeats']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
