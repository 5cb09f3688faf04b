"""Which number format a run trains in: bf16 autocast where the hardware runs it natively, else float32.

bf16 halves the bytes every convolution moves. GPUs (CUDA) and CPUs with native bf16 instructions (AVX-512
BF16 or AMX, e.g. recent AMD EPYC and Intel Xeon) run it about twice as fast as float32: on this project's
development CPU a small-CNN step at batch 256 took 128 ms against 261 ms (docs/benchmarks.md). Older CPUs
emulate bf16 and are *slower* with it, so "auto" only picks it where it is native. FLOPs and steps do not
change with the format (a compute budget is the same number of steps either way); the run records which
format it used, and benchmarks/precision.py checks that probe accuracies stay within seed spread.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16")
_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bf16 arithmetic


@functools.cache
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU advertises native bf16 instructions (Linux; elsewhere we do not guess: False)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return any(flag in flags for flag in _CPU_FLAGS)


def resolve_precision(precision: str, device: torch.device) -> str:
    """'fp32' or 'bf16' for this device: ``auto`` is bf16 on CUDA and on CPUs with native bf16, else fp32.
    Apple's MPS stays in float32 (its bf16 autocast support varies by OS version)."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16"
    if device.type == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def autocast(precision: str, device: torch.device) -> torch.autocast:
    """The autocast context of a resolved precision (disabled for fp32: the context costs nothing then)."""
    kind = device.type if device.type in ("cuda", "cpu") else "cpu"
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=precision == "bf16" and device.type in ("cuda", "cpu"))
