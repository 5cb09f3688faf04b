"""Shared helpers for the benchmark scripts: medians of repeated timings and a machine description."""

import os
import platform
import statistics
import time
from datetime import date

import torch


def median_time(fn, repeats: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds. Medians, because these machines are shared and noisy."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{date.today().isoformat()}, {os.cpu_count()} CPU cores ({cpu}), {gpu}, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, Python {platform.python_version()}"
    )


def pct(value) -> str:
    """A fraction as a percentage with one decimal for the printed tables; "—" where there is none."""
    return "—" if value is None else f"{100 * value:.1f}"
