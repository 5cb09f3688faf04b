"""What "Which layer holds what" adds to every run: the hooked feature pass and the per-stage probes.

Per dataset (its default backbone, untrained: the probes cost the same on trained features), median of the
repeats: the plain feature pass, the same pass with ``stages=True`` (forward hooks), and ``stage_probes`` as
``evaluate_trainer`` calls it (the last stage of a conv backbone reuses the run's own probe). The cost per
run is (hooked - plain) + stage probes; a run's random-init baseline pays it once more (then cached).

    python benchmarks/stage_probes.py --datasets shapes,digits,corpus --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine  # noqa: E402
from sslcore.evaluate import extract_features, linear_probe, stage_probes  # noqa: E402
from sslcore.train import TrainConfig, Trainer  # noqa: E402


def measure(dataset: str, repeats: int) -> dict:
    trainer = Trainer(TrainConfig(task="random_init", dataset=dataset))
    x, y, train, test = trainer.data.inputs, trainer.data.labels, trainer.train_idx, trainer.test_idx
    feats = extract_features(trainer.backbone, x)
    known = (feats, linear_probe(feats[train], y[train], feats[test], y[test]))  # also warms up L-BFGS
    times: dict[str, list[float]] = {k: [] for k in ("plain", "hooked", "probes", "plain_cpu", "hooked_cpu", "probes_cpu")}

    def timed(name, fn, *args, **kwargs):
        cpu, tick = time.process_time(), time.perf_counter()
        out = fn(*args, **kwargs)
        times[name].append(time.perf_counter() - tick)
        times[f"{name}_cpu"].append(time.process_time() - cpu)
        return out

    for _ in range(repeats):
        timed("plain", extract_features, trainer.backbone, x)
        _, pooled = timed("hooked", extract_features, trainer.backbone, x, stages=True)
        rows = timed("probes", stage_probes, pooled, y, train, test, known)
    med = {k: statistics.median(v) for k, v in times.items()}
    extra = med["hooked"] - med["plain"] + med["probes"]
    extra_cpu = med["hooked_cpu"] - med["plain_cpu"] + med["probes_cpu"]
    return {"dataset": dataset, "n": len(x), "stages": len(rows), **med, "extra": extra, "extra_cpu": extra_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="shapes,digits,corpus")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    print("wall seconds, CPU seconds in brackets (the probes run on one thread: CPU s = wall s on a quiet machine)")
    print("| dataset | examples | stages | pass (s) | hooked pass (s) | stage probes (s) | added per run (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for dataset in args.datasets.split(","):
        r = measure(dataset, args.repeats)
        print(
            f"| {r['dataset']} | {r['n']} | {r['stages']} | {r['plain']:.2f} ({r['plain_cpu']:.2f}) | "
            f"{r['hooked']:.2f} ({r['hooked_cpu']:.2f}) | {r['probes']:.2f} ({r['probes_cpu']:.2f}) | "
            f"{r['extra']:.2f} ({r['extra_cpu']:.2f}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
