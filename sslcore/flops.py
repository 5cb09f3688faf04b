"""FLOPs of one training step, counted (not estimated) with ``torch.utils.flop_counter``.

A compute budget gives every run of a comparison the same number of floating-point operations, whatever
else the machine is doing. Tasks differ in what one step costs (rotation feeds four images per source
image, jigsaw small tiles, colorization a decoder), so each task's own step is counted: once per task,
parameters, backbone, input shape and batch size, then cached in memory and on disk.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from sslcore import artifacts

_COUNTED: dict[str, float] = {}


def step_key(config, num_classes: int, vocab_size: int | None = None) -> str:
    """What a step's FLOPs depend on: the task and its knobs, the backbone, the input shape, the batch."""
    fields = {
        "task": config.task,
        "params": config.params,
        "backbone": config.backbone,
        "batch_size": config.batch_size,
        "num_classes": num_classes,
    }
    if getattr(config, "backbone_args", None):  # only when set, so the default backbone's keys stay as they were
        fields["backbone_args"] = config.backbone_args
    if config.modality == "text":
        fields |= {"dataset": config.dataset, "seq_len": config.seq_len, "vocab": vocab_size}
    else:
        fields["image_size"] = config.image_size
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:24]


def count_step_flops(task, backbone, head, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    """Forward + backward FLOPs of one training step of ``task`` on this batch.

    Runs on copies, with its own generator: the run's weights, BatchNorm statistics and random stream are
    untouched, so counting never changes what a run learns. The optimizer's elementwise update is not
    counted (flop_counter counts matrix products and convolutions, which are nearly all of a step).
    """
    backbone, head = copy.deepcopy(backbone).train(), copy.deepcopy(head).train()
    with FlopCounterMode(display=False) as counter:
        batch = task.prepare(inputs, torch.Generator().manual_seed(0))
        if task.needs_labels:
            batch.targets = labels
        loss, _ = task.loss(task.forward(backbone, head, batch), batch)
        loss.backward()
    return float(counter.get_total_flops())


def step_flops(key: str, count, cache_dir: str | Path | None = None) -> float:
    """``count()`` once per key: remembered in this process and, given ``cache_dir``, on disk."""
    if key in _COUNTED:
        return _COUNTED[key]
    path = Path(cache_dir) / "flops" / f"{key}.json" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            _COUNTED[key] = float(json.loads(path.read_text())["flops"])
            return _COUNTED[key]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # damaged cache entry: count again
    flops = count()
    _COUNTED[key] = flops
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            artifacts.write_json(path, {"flops": flops})
        except OSError:
            pass  # a cache that cannot be written costs one recount, not the run
    return flops


def format_flops(flops: float) -> str:
    """1.4e12 -> '1.4 TFLOP': the unit people read on the form and in Results."""
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if flops >= scale:
            return f"{flops / scale:.3g} {unit}"
    return f"{flops:.3g} FLOP"


def parse_flops(text: str | float) -> float:
    """'2.4T', '2.4e12', '500G' -> FLOPs. A ValueError names what is accepted."""
    if isinstance(text, (int, float)):
        return float(text)
    raw = str(text).strip().upper().removesuffix("FLOPS").removesuffix("FLOP").strip()
    scale = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}.get(raw[-1:], 1.0)
    number = raw[:-1] if scale != 1.0 else raw
    try:
        return float(number) * scale
    except ValueError:
        raise ValueError(f"compute must be a number of FLOPs such as 2.4e12 or 2.4T, got {text!r}") from None
