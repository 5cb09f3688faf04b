"""The "pretext tax": a task's full training step against the bare backbone on the same network input.

    python benchmarks/train_speed.py [--batch 256] [--size 32] [--repeats 7] [--device auto]

For every task, one real training step (``sslcore.train.train_step``: make_batch + forward + head + loss +
backward + AdamW) on ``--batch`` source images, against forward + backward + AdamW of the bare backbone
on a tensor of exactly the shape the backbone receives in that task (e.g. 4×batch images for rotation
with all rotations, 4×batch 14-pixel tiles for a 2×2 jigsaw), measured in the same run. The difference
is what the pretext task itself costs: batch generation, head and loss.
"""

import argparse
import contextlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, median_time  # noqa: E402
from sslcore.data import load_dataset  # noqa: E402
from sslcore.device import resolve_device  # noqa: E402
from sslcore.models import make_backbone  # noqa: E402
from sslcore.tasks import TASKS, get_task  # noqa: E402
from sslcore.tasks.supervised import Supervised  # noqa: E402
from sslcore.train import train_step  # noqa: E402


def backbone_input_shape(task, backbone, head, images, gen) -> tuple:
    """The shape of what the task actually feeds the backbone's layers, caught with a forward pre-hook."""
    shapes = []
    hook = backbone.layers.register_forward_pre_hook(lambda _m, args: shapes.append(tuple(args[0].shape)))
    with torch.no_grad():
        task.forward(backbone, head, task.prepare(images, gen))
    hook.remove()
    return shapes[0]


def measure(task, images, labels, size, repeats, device, autocast) -> tuple[tuple, float, float]:
    """Median seconds of one task step and of a bare-backbone step on the task's backbone-input shape."""

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    torch.manual_seed(0)
    backbone = make_backbone().to(device, memory_format=torch.channels_last)
    head = task.head(backbone, size).to(device)
    optimizer = torch.optim.AdamW([*backbone.parameters(), *head.parameters()], lr=1e-3)
    gen = torch.Generator().manual_seed(0)

    def task_step():
        train_step(task, backbone, head, optimizer, images, labels, gen, autocast)
        sync()

    task_s = median_time(task_step, repeats)
    shape = backbone_input_shape(task, backbone, head, images, gen)
    bare = make_backbone().to(device, memory_format=torch.channels_last)
    bare_opt = torch.optim.AdamW(bare.parameters(), lr=1e-3)
    x = torch.rand(shape, device=device)

    def bare_step():
        bare_opt.zero_grad(set_to_none=True)
        with autocast:
            loss = bare(x).float().square().mean()
        loss.backward()
        bare_opt.step()
        sync()

    return shape, task_s, median_time(bare_step, repeats)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    data = load_dataset("shapes", n=args.batch, size=args.size)
    images, labels = data.images.to(device), data.labels.to(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    print(f"Machine: {machine()}; device {device}")
    print(f"{args.batch} source images of {args.size}x{args.size} per step; medians of {args.repeats} steps.\n")
    print("| task | backbone input | task step (ms) | bare backbone step (ms) | pretext tax | source img/s |")
    print("|---|---|---:|---:|---:|---:|")
    tasks = [get_task(name) for name in TASKS] + [Supervised(num_classes=len(data.class_names))]
    for task in tasks:
        shape, task_s, bare_s = measure(task, images, labels, args.size, args.repeats, device, autocast)
        print(
            f"| {task.name} | {shape[0]}×{shape[2]}×{shape[3]} | {1000 * task_s:.0f} | {1000 * bare_s:.0f} | "
            f"{100 * (task_s / bare_s - 1):+.0f}% | {args.batch / task_s:,.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
