"""How much a run trains, and when it stops: the one home of the budget logic.

A run spends one of three budgets:

- **compute** (FLOPs): the default of comparisons. The run's own step is counted (``sslcore.flops``), so
  the budget is a number of steps fixed before the first one: the same on an idle or a busy machine, on a
  laptop or a GPU. A wall-clock cap is the safety net; a run it stops is marked *under budget*.
- **epochs**: also a number of steps, fixed up front.
- **time** (seconds): "what can I get in a minute" from the command line. Depends on the machine's load.

People think in seconds, so a comparison's "about how long on this machine?" is converted into compute
with the machine's measured speed (``sslcore.speed.measure_speed``, which trains, so it lives above the
training loop), and both are shown.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from sslcore.flops import format_flops

SAFETY_FACTOR = 5.0  # a compute run converted from S seconds is stopped after SAFETY_FACTOR × S (at least +60 s)


@dataclass(frozen=True)
class Budget:
    """A run's plan: ``total_steps`` for compute and epoch budgets, ``seconds`` for time budgets."""

    kind: str  # "compute" | "epochs" | "time"
    step_flops: float  # FLOPs of one training step (0 for the untrained random-init baseline)
    total_steps: int | None = None
    seconds: float | None = None
    cap_s: float | None = None  # wall-clock safety net of step budgets
    probe_interval: float = 0.125  # progress between downstream probes

    @classmethod
    def plan(cls, config, steps_per_epoch: int, step_flops: float) -> Budget:
        if config.compute is not None:
            total = max(1, round(config.compute / step_flops)) if step_flops > 0 else 0
            return cls("compute", step_flops, total, None, config.max_seconds, _points(config.probe_points))
        if config.epochs is not None:
            total = math.ceil(config.epochs * steps_per_epoch)
            return cls("epochs", step_flops, total, None, config.max_seconds, _points(config.probe_points))
        return cls("time", step_flops, None, config.budget, None, config.probe_every / config.budget)

    def progress(self, steps: int, seconds: float) -> float:
        """Fraction of the budget spent: steps for compute and epochs (exact), seconds for time."""
        if self.total_steps is not None:
            return steps / self.total_steps if self.total_steps else 1.0
        return seconds / self.seconds

    def capped(self, seconds: float) -> bool:
        """The safety net: a step budget that is still running after ``cap_s`` training seconds stops."""
        return self.cap_s is not None and seconds >= self.cap_s

    def eta(self, steps: int, seconds: float, seconds_per_step: float) -> float:
        if self.total_steps is None:
            return max(0.0, self.seconds - seconds)
        eta = (self.total_steps - steps) * seconds_per_step
        return eta if self.cap_s is None else min(eta, max(0.0, self.cap_s - seconds))

    def next_probe(self, progress: float) -> float:
        """Time budgets probe every ``probe_every`` seconds from the last probe; step budgets at fixed fractions
        of the run, so the curve has the same points on every machine."""
        if self.kind == "time":
            return progress + self.probe_interval
        return (math.floor(progress / self.probe_interval + 1e-9) + 1) * self.probe_interval

    def accounting(self, steps: int, batch_size: int, seconds: float, capped: bool) -> dict:
        """What the run spent, under the keys results carry (and Results shows)."""
        return {
            "budget": self.kind,
            "planned_steps": self.total_steps,
            "steps": steps,
            "images_seen": steps * batch_size,
            "flops": steps * self.step_flops,
            "step_flops": self.step_flops,
            "wall_s": seconds,
            "under_budget": capped,
        }


def _points(probe_points: int) -> float:
    return 1.0 / probe_points if probe_points > 0 else math.inf


class StepClock:
    """Training seconds, probes and progress reports excluded.

    On the CPU each window is timed with ``perf_counter``. On CUDA the window is bracketed by device events
    and read only when it is closed (at a progress report): no synchronisation per step, and the time is
    what the GPU spent, not when the host happened to queue the work.
    """

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.total = 0.0
        self.started: float | None = None
        self.start_event = None

    def start(self) -> None:
        if self.started is not None:
            return
        self.started = time.perf_counter()
        if self.cuda:
            self.start_event = torch.cuda.Event(enable_timing=True)
            self.start_event.record()

    def stop(self) -> float:
        """Close the window (on CUDA: wait for the queued work) and return the total seconds."""
        if self.started is None:
            return self.total
        if self.cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            end.synchronize()
            self.total += self.start_event.elapsed_time(end) / 1000
        else:
            self.total += time.perf_counter() - self.started
        self.started = None
        return self.total

    @property
    def seconds(self) -> float:
        """The total so far, the open window estimated from the host's clock."""
        return self.total + (time.perf_counter() - self.started if self.started is not None else 0.0)


# ---------------------------------------------------------------------------------- seconds <-> compute
def seconds_to_compute(seconds: float, flops_per_s: float) -> float:
    return seconds * flops_per_s


def safety_cap(seconds: float) -> float:
    """The wall-clock cap of a compute budget converted from ``seconds``: generous, so only a machine far
    busier or slower than when its speed was measured hits it."""
    return max(SAFETY_FACTOR * seconds, seconds + 60.0)


def describe(compute: float, flops_per_s: float | None) -> str:
    """'≈ 30 s here · 1.4 TFLOP per run': the budget both ways."""
    here = f"≈ {compute / flops_per_s:.0f} s here · " if flops_per_s else ""
    return f"{here}{format_flops(compute)} per run"
