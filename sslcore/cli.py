"""Command line: ``python -m sslcore <command>``. Everything the app shows can be produced from here."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sslcore.errors import ConfigError, ImageDecodeError, PretextLabError

PREVIEW_IMAGES = 6
MAX_PREVIEW_IMAGES = 64
MIN_SIZE, MAX_SIZE = 16, 256


def _tasks(args) -> int:
    from sslcore.tasks import describe_task, list_tasks

    tasks = [describe_task(cls) for cls in list_tasks()]
    if args.json:
        print(json.dumps(tasks, indent=2))
        return 0
    for t in tasks:
        print(f"{t['name']:<18} {t['modality']:<6} {t['kind']:<16} {t['summary']}")
        for p in t["params"]:
            allowed = f"one of {', '.join(map(str, p['choices']))}" if p["choices"] else _range_text(p)
            print(f"    {p['name']}={p['default']!s:<8} {allowed:<22} {p['help']}")
    return 0


def _range_text(p: dict) -> str:
    if p["type"] == "bool":
        return "true/false"
    if p["min"] is None and p["max"] is None:
        return ""
    return f"{p['min']}..{p['max']}"


def _datasets(args) -> int:
    from sslcore.data import list_datasets

    rows = list_datasets()
    if args.json:
        print(json.dumps([{"name": n, "description": d} for n, d in rows], indent=2))
    else:
        for name, description in rows:
            print(f"{name:<10} {description}")
    return 0


def read_image_files(paths: list[str], size: int):
    """Decode image files from the command line; returns (uint8 tensor, names) or raises on the first bad one."""
    import torch

    from sslcore.data import decode_image, image_to_tensor
    from sslcore.data.decode import MAX_UPLOAD_BYTES

    tensors = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise ImageDecodeError(raw, "no such file")
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise ImageDecodeError(raw, f"file is larger than the {MAX_UPLOAD_BYTES // 2**20} MB limit")
        tensors.append(image_to_tensor(decode_image(path.read_bytes(), path.name), size))
    return torch.stack(tensors), [Path(p).name for p in paths]


def _preview(args) -> int:
    import torch

    from sslcore.data import load_dataset
    from sslcore.preview import render_preview
    from sslcore.tasks import get_task
    from sslcore.tasks.base import parse_param_args

    task = get_task(args.task, parse_param_args(args.param))
    if not 1 <= args.n <= MAX_PREVIEW_IMAGES:
        raise ConfigError(f"-n must be between 1 and {MAX_PREVIEW_IMAGES}, got {args.n}")
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        raise ConfigError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {args.size}")
    if args.images:
        images, names = read_image_files(args.images, args.size)
    else:
        data = load_dataset(args.dataset, n=max(args.n, 1), size=args.size, seed=args.seed)
        images, names = data.images[: args.n], data.names[: args.n]
    batch = task.prepare(images, torch.Generator().manual_seed(args.seed))
    items = task.explain(batch)
    out = Path(args.out or f"{task.name}-preview.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    render_preview(task, items).save(out)
    for i, item in enumerate(items):
        print(f"{names[i % len(names)]}: {item.label}")
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sslcore", description="Pretext Lab: self-supervised pretext tasks.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks", help="list the pretext tasks and their parameters")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_tasks)

    p = sub.add_parser("datasets", help="list the built-in datasets")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_datasets)

    p = sub.add_parser("preview", help="render what a task feeds the network, and its pseudo-labels, as a PNG")
    p.add_argument("task", help="task name (see `tasks`)")
    p.add_argument("images", nargs="*", help="your own image files (default: built-in samples)")
    p.add_argument("--out", help="PNG file to write (default: TASK-preview.png)")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same picture")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="task parameter, repeatable")
    p.add_argument("--dataset", default="shapes", help="built-in samples to use when no images are given")
    p.add_argument("-n", type=int, default=PREVIEW_IMAGES, help="number of built-in samples")
    p.add_argument("--size", type=int, default=64, help="image side in pixels")
    p.set_defaults(func=_preview)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PretextLabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
