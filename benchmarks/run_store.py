"""What the run store costs a run: training speed with and without progress writing, and queue latency.

    python benchmarks/run_store.py [--epochs 3] [--repeats 3] [--submits 5]

1. The same training (rotation on shapes, fixed epochs) with bare ``Trainer.events()`` against the
   worker's path (every event through the throttled ProgressWriter into SQLite, and the cancel flag read
   from the store before every step), alternating, in the same run. Target: ≤ 2% slower.
2. Time from ``submit`` to the worker starting the run (the ``started`` minus ``created`` timestamps in
   the store), with a warm, idle worker process. Target: ≤ 1 s.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine  # noqa: E402
from sslcore.data import load_dataset  # noqa: E402
from sslcore.runs import RunStore  # noqa: E402
from sslcore.runs.executor import ProgressWriter  # noqa: E402
from sslcore.train import TrainConfig, Trainer  # noqa: E402


def images_per_second(config, data, store=None, run_id=None) -> float:
    """Train once; with a store, exactly as the worker does (throttled event writes, cancel checks)."""
    trainer = Trainer(config, data)
    if store is None:
        for _ in trainer.events():
            pass
    else:
        writer = ProgressWriter(store, run_id)
        for event in trainer.events(lambda: store.cancel_requested(run_id)):
            writer(event)
    return trainer.steps * config.batch_size / trainer.train_seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--submits", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        config = TrainConfig(task="rotation", epochs=args.epochs, budget=None, n=2000, probe_every=1e9, device="cpu")
        data = load_dataset("shapes", n=2000)
        bare, stored = [], []
        for _ in range(args.repeats):
            bare.append(images_per_second(config, data))
            run_id = store.submit(config)
            store.claim("bench")
            stored.append(images_per_second(config, data, store, run_id))
        b, s = statistics.median(bare), statistics.median(stored)
        print(f"\n| training path | images/s (median of {args.repeats}) | runs |")
        print("|---|---:|---|")
        print(f"| bare `Trainer.events()` | {b:,.0f} | {', '.join(f'{v:,.0f}' for v in bare)} |")
        print(f"| with the store (progress + cancel checks) | {s:,.0f} | {', '.join(f'{v:,.0f}' for v in stored)} |")
        print(f"\nStore overhead: {100 * (1 - s / b):+.1f}% (target ≤ 2%)")

        worker = subprocess.Popen(
            [sys.executable, "-m", "sslcore", "worker", "--data-dir", tmp],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            while not store.live_workers():
                time.sleep(0.1)
            time.sleep(1.0)  # let it import everything and go idle
            latencies = []
            for _ in range(args.submits):
                run_id = store.submit(TrainConfig(task="random_init", n=200, probe_size=20))
                while (run := store.get(run_id)).started is None:
                    time.sleep(0.02)
                latencies.append(run.started - run.created)
                while not store.get(run_id).done:
                    time.sleep(0.1)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        print(
            f"Submit → start with a warm worker: median {statistics.median(latencies):.2f} s "
            f"({', '.join(f'{v:.2f}' for v in latencies)}; target ≤ 1 s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
