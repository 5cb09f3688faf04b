"""How fast each task makes its batches, against a training step and against per-image PIL pipelines.

    python benchmarks/pretext_throughput.py [--n 512] [--size 32] [--repeats 7]

For every task: images/s of ``make_batch`` on N images on the CPU, and its cost as a share of one
training step (forward + backward + AdamW) of the default backbone on the same N images, measured in
the same run. For rotation, jigsaw, relative position and SimCLR views it also times the same job done
one PIL image at a time, the way most libraries' Dataset.__getitem__ does it.
Prints a Markdown table for docs/benchmarks.md.
"""

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, median_time  # noqa: E402
from sslcore.data import load_dataset  # noqa: E402
from sslcore.models import make_backbone  # noqa: E402
from sslcore.tasks import TASKS, get_task  # noqa: E402


# ------------------------------------------------------------------ per-image baselines (PIL + torchvision)
def pil_rotation(pils, rng):
    to_tensor = T.ToTensor()
    turns = [None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270]
    out = []
    for im in pils:
        k = rng.randrange(4)
        out.append(to_tensor(im if k == 0 else im.transpose(turns[k])))
    return torch.stack(out)


def pil_jigsaw(pils, rng, grid=2, gap=2):
    to_tensor = T.ToTensor()
    out = []
    for im in pils:
        cell = im.width // grid
        tile = cell - gap
        tiles = []
        for pos in range(grid * grid):
            r, c = divmod(pos, grid)
            oy, ox = rng.randint(0, gap), rng.randint(0, gap)
            tiles.append(to_tensor(im.crop((c * cell + ox, r * cell + oy, c * cell + ox + tile, r * cell + oy + tile))))
        rng.shuffle(tiles)
        out.append(torch.stack(tiles))
    return torch.stack(out)


def pil_relative_position(pils, rng, gap=2, jitter=1):
    to_tensor = T.ToTensor()
    out = []
    for im in pils:
        p = (im.width - 2 * gap - 2 * jitter) // 3
        k = rng.randrange(8)
        dr, dc = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)][k]
        patches = []
        for r, c in ((1, 1), (1 + dr, 1 + dc)):
            y = jitter + r * (p + gap) + rng.randint(-jitter, jitter)
            x = jitter + c * (p + gap) + rng.randint(-jitter, jitter)
            patches.append(to_tensor(im.crop((x, y, x + p, y + p))))
        out.append(torch.stack(patches))
    return torch.stack(out)


def simclr_pipeline(size):
    return T.Compose(
        [
            T.RandomResizedCrop(size, scale=(0.2, 1.0)),
            T.RandomHorizontalFlip(),
            T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            T.RandomGrayscale(0.2),
            T.ToTensor(),
        ]
    )


def pil_simclr(pils, rng, pipeline):
    return torch.stack([pipeline(im) for im in pils] + [pipeline(im) for im in pils])


PER_IMAGE = {"rotation": pil_rotation, "jigsaw": pil_jigsaw, "relative_position": pil_relative_position}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    images = load_dataset("shapes", n=args.n, size=args.size, seed=0).images
    pils = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]
    rng = random.Random(0)

    backbone = make_backbone().to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(backbone.parameters(), lr=1e-3)
    x = images.float().div(255).contiguous(memory_format=torch.channels_last)

    def step():
        optimizer.zero_grad(set_to_none=True)
        backbone(x).square().mean().backward()
        optimizer.step()

    step_s = median_time(step, args.repeats)
    print(f"Machine: {machine()}")
    print(f"{args.n} images of {args.size}x{args.size}; medians of {args.repeats} repeats.")
    print(f"Reference: one training step of the default backbone (forward + backward + AdamW) on the batch: "
          f"{step_s * 1000:.0f} ms ({args.n / step_s:,.0f} img/s).\n")
    print("| task | make_batch img/s | share of a training step | per-image PIL img/s | batched / per-image |")
    print("|---|---:|---:|---:|---:|")
    simclr_pil = simclr_pipeline(args.size)
    for name in TASKS:
        task = get_task(name)
        gen = torch.Generator().manual_seed(0)
        batch_s = median_time(lambda task=task, gen=gen: task.prepare(images, gen), args.repeats)
        pil_cell = ratio_cell = "—"
        baseline = PER_IMAGE.get(name)
        if name == "simclr":
            baseline = lambda pils, rng: pil_simclr(pils, rng, simclr_pil)  # noqa: E731
        if baseline is not None:
            pil_s = median_time(lambda baseline=baseline: baseline(pils, rng), max(3, args.repeats // 2))
            pil_cell, ratio_cell = f"{args.n / pil_s:,.0f}", f"{pil_s / batch_s:.1f}×"
        print(f"| {name} | {args.n / batch_s:,.0f} | {100 * batch_s / step_s:.1f}% | {pil_cell} | {ratio_cell} |")
    return 0


if __name__ == "__main__":
    np.random.seed(0)
    sys.exit(main())
