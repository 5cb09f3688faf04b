"""What the Ray path costs a run, against the local worker, in the same run of this script.

    python benchmarks/ray_overhead.py [--budget 60] [--repeats 2] [--latency 5]

1. The same time-budgeted run (rotation on shapes, CPU) through a dispatcher with the local executor and
   through one with the Ray executor (a local Ray cluster started here, one run at a time with all the
   machine's CPUs), alternating local / Ray ``--repeats`` times. A time budget makes the number of
   training steps the measure: the ratio Ray / local. Target: ≥ 0.95 (at most 5% fewer steps).
2. Submit → start latency on an idle, warm dispatcher: from ``submit`` (the run's ``created`` time) to
   its trainer's "start" event in the store, for tiny runs (``--latency`` of them per executor); for Ray
   also to the task running on a node ("placed"). The first Ray run of a fresh cluster (a new Ray worker
   process that imports torch) is reported apart. Target: ≤ 2 s.

Both dispatchers poll an idle queue every 0.5 s, so up to 0.5 s of each latency is that poll.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine  # noqa: E402
from sslcore.runs import RunStore, Worker, make_executor  # noqa: E402
from sslcore.train import TrainConfig  # noqa: E402


def run_config(budget: float, seed: int) -> TrainConfig:
    return TrainConfig(task="rotation", dataset="shapes", n=2000, budget=budget, seed=seed, device="cpu")


def tiny(seed: int) -> TrainConfig:
    return TrainConfig(task="rotation", dataset="shapes", n=64, batch_size=16, budget=0.5, seed=seed, device="cpu")


class Dispatcher:
    """A dispatcher thread over its own store, serving until closed."""

    def __init__(self, executor):
        self.store = RunStore(tempfile.mkdtemp(prefix="ray-overhead-"))
        self.worker = Worker(self.store, executor)
        self.thread = threading.Thread(target=self.worker.run, daemon=True)
        self.thread.start()

    def run(self, config: TrainConfig) -> dict:
        run_id = self.store.submit(config)
        while not (run := self.store.get(run_id)).done:
            time.sleep(0.1)
        assert run.status == "succeeded", run.error
        events = self.store.events_since(run_id)
        first = {e["kind"]: e["time"] for e in reversed(events)}
        return {
            "steps": run.results["steps"],
            "start": first["start"] - run.created,
            "placed": first["placed"] - run.created if "placed" in first else None,
        }

    def close(self) -> None:
        self.worker.stopping.set()
        self.thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=60.0, help="training seconds of each compared run")
    parser.add_argument("--repeats", type=int, default=2, help="local / Ray pairs")
    parser.add_argument("--latency", type=int, default=5, help="tiny runs per executor for the latency")
    args = parser.parse_args()

    import ray

    from sslcore.runs.ray_executor import RUNTIME_ENV

    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))  # token auth on, with a token of this run
    cpus = os.cpu_count()
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, runtime_env=RUNTIME_ENV, log_to_driver=False)
    try:
        local = Dispatcher(make_executor("local", device="cpu"))
        remote = Dispatcher(make_executor("ray", device="cpu", gpus_per_run=0, cpus_per_run=cpus))
        cold = remote.run(tiny(0))  # a fresh Ray worker process: it imports torch first
        local.run(tiny(0))
        steps = {"local": [], "ray": []}
        for i in range(args.repeats):
            for name, dispatcher in (("local", local), ("ray", remote)):
                steps[name].append(dispatcher.run(run_config(args.budget, i))["steps"])
                print(f"{name:>5} run {i + 1}: {steps[name][-1]} steps in {args.budget:g} s", flush=True)
        latency = {
            name: [d.run(tiny(i + 1)) for i in range(args.latency)] for name, d in (("local", local), ("ray", remote))
        }
        local.close()
        remote.close()
    finally:
        ray.shutdown()

    ratios = [r / lo for r, lo in zip(steps["ray"], steps["local"])]
    print(f"\n{machine()}; load average at the end {os.getloadavg()[0]:.1f}")
    print(f"{args.budget:g} s rotation runs (shapes, 2000 images, batch 256, CPU), local / Ray alternating:")
    print(f"  steps local {steps['local']}, Ray {steps['ray']}; Ray / local per pair {[round(r, 3) for r in ratios]}")
    print(f"  median ratio {statistics.median(ratios):.3f} (target >= 0.95)")
    print(
        "submit -> start (trainer's 'start' event in the store), idle warm dispatcher, median of "
        f"{args.latency} tiny runs:"
    )
    for name in ("local", "ray"):
        print(f"  {name:>5}: {statistics.median(x['start'] for x in latency[name]):.2f} s")
    print(
        f"  Ray, submit -> task running on the node ('placed'): "
        f"{statistics.median(x['placed'] for x in latency['ray']):.2f} s"
    )
    print(f"  Ray, first run on a fresh cluster (new Ray worker imports torch): start {cold['start']:.2f} s")


if __name__ == "__main__":
    main()
