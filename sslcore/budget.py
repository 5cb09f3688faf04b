"""How much a run trains, and when it stops: the one home of the budget logic.

A run spends one of three budgets:

- **compute** (FLOPs): the default of comparisons. The run's own step is counted (``sslcore.flops``), so
  the budget is a number of steps fixed before the first one: the same on an idle or a busy machine, on a
  laptop or a GPU. A wall-clock cap is the safety net; a run it stops is marked *under budget*.
- **epochs**: also a number of steps, fixed up front.
- **time** (seconds): "what can I get in a minute" from the command line. Depends on the machine's load.

People think in seconds, so a comparison's "about how long on this machine?" is converted into compute
with the machine's measured speed (``measure_speed``), and both are shown.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from sslcore import artifacts
from sslcore.flops import format_flops
from sslcore.kinds import SUPERVISED
from sslcore.precision import resolve_precision

SAFETY_FACTOR = 5.0  # a compute run converted from S seconds is stopped after SAFETY_FACTOR × S (at least +60 s)
SPEED_MAX_AGE_S = 24 * 3600  # the measured speed is re-measured once a day


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


def speed_key(device: torch.device, backbone: str, backbone_args: dict | None = None) -> str:
    from sslcore.train import device_name

    name = "".join(c if c.isalnum() else "-" for c in device_name(device)).strip("-").lower()
    size = f"-{hashlib.sha1(json.dumps(backbone_args, sort_keys=True).encode()).hexdigest()[:10]}" if backbone_args else ""
    bf16 = "-bf16" if device.type == "cpu" and resolve_precision("auto", device) == "bf16" else ""  # ~2x fp32's speed
    return f"{name}-{torch.get_num_threads()}threads-{backbone}{size}{bf16}"


def _speed_path(device: torch.device, backbone: str, backbone_args: dict | None, cache_dir) -> Path | None:
    if cache_dir is None:
        return None
    return Path(cache_dir) / "speed" / f"{speed_key(device, backbone, backbone_args)}.json"


def known_speed(
    backbone: str | None = None, device: str = "auto", cache_dir: str | Path | None = None, backbone_args: dict | None = None
) -> float | None:
    """The speed measured here within the last day, or None (nothing is trained to find out)."""
    from sslcore.models import DEFAULT_BACKBONE
    from sslcore.train import resolve_device

    path = _speed_path(resolve_device(device), backbone or DEFAULT_BACKBONE["image"], backbone_args, cache_dir)
    try:
        cached = json.loads(path.read_text())
        if time.time() - cached["measured_at"] < SPEED_MAX_AGE_S:
            return float(cached["flops_per_s"])
    except (AttributeError, OSError, ValueError, KeyError, TypeError):
        pass  # not measured yet (or a damaged file): None
    return None


def measure_speed(
    backbone: str | None = None,
    device: str = "auto",
    cache_dir: str | Path | None = None,
    seconds: float = 1.5,
    backbone_args: dict | None = None,
) -> float:
    """FLOP/s this machine sustains training ``backbone`` (a supervised step at batch 256, its default data).

    Cached per device, thread count, backbone and size (``backbone_args``: a narrow network does not run at
    the default one's FLOP/s) for a day in ``cache_dir``: the form converts seconds with it without
    training anything, and a busy moment does not set the speed for good.
    """
    from sslcore.models import DEFAULT_BACKBONE, backbone_modality
    from sslcore.train import TrainConfig, Trainer, resolve_device, train_step

    known = known_speed(backbone, device, cache_dir, backbone_args)
    if known is not None:
        return known
    resolved = resolve_device(device)
    backbone = backbone or DEFAULT_BACKBONE["image"]
    path = _speed_path(resolved, backbone, backbone_args, cache_dir)
    text = backbone_modality(backbone) == "text"
    config = TrainConfig(
        task=SUPERVISED, dataset="corpus" if text else "shapes", n=None if text else 512, backbone=backbone,
        backbone_args=dict(backbone_args or {}), device=device, epochs=1, probe_points=0,
    )  # fmt: skip
    trainer = Trainer(config)
    optimizer = trainer.make_optimizer()
    rows = trainer.train_idx[: config.batch_size]
    images, labels = trainer.data.inputs[rows].to(resolved), trainer.data.labels[rows].to(resolved)
    gen = torch.Generator().manual_seed(0)
    clock = StepClock(resolved)
    steps = 0
    train_step(trainer.task, trainer.backbone, trainer.head, optimizer, images, labels, gen, trainer.autocast)
    while steps < 3 or clock.seconds < seconds:
        clock.start()
        train_step(trainer.task, trainer.backbone, trainer.head, optimizer, images, labels, gen, trainer.autocast)
        clock.stop()
        steps += 1
    speed = steps * trainer.step_flops() / clock.total
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            record = {"flops_per_s": speed, "measured_at": time.time(), "backbone": backbone, "backbone_args": backbone_args}
            artifacts.write_json(path, record)
        except OSError:
            pass
    return speed
