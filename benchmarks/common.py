"""Shared helpers for the benchmark scripts: medians of repeated timings, a machine description, and the
CPU time of processes and of the whole machine read from /proc (Linux)."""

import os
import platform
import statistics
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

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


TICK = os.sysconf("SC_CLK_TCK")  # /proc counts CPU time in these ticks per second


def processes() -> Iterator[tuple[int, str, int, int]]:
    """(pid, command name, parent pid, CPU ticks so far: user + system) of every process /proc can read."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2 :].split()
        yield int(entry.name), comm, int(rest[1]), int(rest[11]) + int(rest[12])


def busy_ticks() -> int:
    """CPU ticks the whole machine has been busy (all cores, every process), minus idle and iowait."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]
