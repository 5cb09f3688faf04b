"""The machine's measured speed: FLOP/s of a supervised training step, cached for a day.

A comparison's "about how long on this machine?" is converted into compute with it (``sslcore.budget``).
Measuring trains a few steps with the ``Trainer``, so this module sits above the training loop, while the
budget logic the loop itself uses stays below it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch

from sslcore import artifacts
from sslcore.budget import StepClock
from sslcore.device import device_name, resolve_device
from sslcore.kinds import SUPERVISED
from sslcore.models import DEFAULT_BACKBONE, backbone_modality
from sslcore.precision import resolve_precision
from sslcore.train import TrainConfig, Trainer, train_step

SPEED_MAX_AGE_S = 24 * 3600  # the measured speed is re-measured once a day


def speed_key(device: torch.device, backbone: str, backbone_args: dict | None = None) -> str:
    name = "".join(c if c.isalnum() else "-" for c in device_name(device)).strip("-").lower()
    size = (
        f"-{hashlib.sha1(json.dumps(backbone_args, sort_keys=True).encode()).hexdigest()[:10]}" if backbone_args else ""
    )
    bf16 = "-bf16" if device.type == "cpu" and resolve_precision("auto", device) == "bf16" else ""  # ~2x fp32's speed
    return f"{name}-{torch.get_num_threads()}threads-{backbone}{size}{bf16}"


def _speed_path(device: torch.device, backbone: str, backbone_args: dict | None, cache_dir) -> Path | None:
    if cache_dir is None:
        return None
    return Path(cache_dir) / "speed" / f"{speed_key(device, backbone, backbone_args)}.json"


def known_speed(
    backbone: str | None = None,
    device: str = "auto",
    cache_dir: str | Path | None = None,
    backbone_args: dict | None = None,
) -> float | None:
    """The speed measured here within the last day, or None (nothing is trained to find out)."""
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
            record = {
                "flops_per_s": speed,
                "measured_at": time.time(),
                "backbone": backbone,
                "backbone_args": backbone_args,
            }
            artifacts.write_json(path, record)
        except OSError:
            pass
    return speed
