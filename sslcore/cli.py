"""Command line: ``python -m sslcore <command>``. Everything the app shows can be produced from here."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sslcore.cli_design import add_commands, add_custom_option, print_custom_section, task_params
from sslcore.cli_owner import acting_owner, add_owner, reading_owner
from sslcore.context import chance_points, flags, spread
from sslcore.errors import ConfigError, ImageDecodeError, PretextLabError, TextDecodeError
from sslcore.kinds import FINETUNE, RANDOM_INIT, SUPERVISED
from sslcore.limits import MAX_SEEDS
from sslcore.words import plural

if TYPE_CHECKING:
    from sslcore.train import TrainConfig

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
    print_custom_section(args.data_dir, reading_owner(args, args.data_dir))
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


def read_capped_file(raw: str, limit: int, error: type, too_big: str) -> bytes:
    """A file named on the command line, refused (as ``error`` naming it) if missing or over ``limit`` bytes."""
    path = Path(raw)
    if not path.is_file():
        raise error(raw, "no such file")
    if path.stat().st_size > limit:
        raise error(raw, too_big)
    return path.read_bytes()


def read_image_files(paths: list[str], size: int):
    """Decode image files from the command line; returns (uint8 tensor, names) or raises on the first bad one."""
    import torch

    from sslcore.data import decode_image, image_to_tensor
    from sslcore.data.decode import MAX_UPLOAD_BYTES

    too_big = f"file is larger than the {MAX_UPLOAD_BYTES // 2**20} MB limit"
    tensors = []
    for raw in paths:
        data = read_capped_file(raw, MAX_UPLOAD_BYTES, ImageDecodeError, too_big)
        tensors.append(image_to_tensor(decode_image(data, Path(raw).name), size))
    return torch.stack(tensors), [Path(p).name for p in paths]


def read_text_files(paths: list[str], text: str | None):
    """A text dataset from --text or .txt/.csv files; the first bad file is a one-line error naming it."""
    from sslcore.data.text import MAX_TEXT_BYTES, build_text_dataset, parse_text_file

    if text is not None:
        return build_text_dataset("--text", parse_text_file(text.encode(), "--text.txt"))
    too_big = f"is over the {MAX_TEXT_BYTES // 2**20} MB limit for text"
    paragraphs = []
    for raw in paths:
        paragraphs += parse_text_file(read_capped_file(raw, MAX_TEXT_BYTES, TextDecodeError, too_big), Path(raw).name)
    return build_text_dataset(", ".join(Path(p).name for p in paths), paragraphs)


def _preview_text(task, args) -> int:
    import torch

    from sslcore.data import load_dataset
    from sslcore.preview import text_preview_html, text_preview_lines

    if args.out and not args.out.lower().endswith(".html"):
        raise ConfigError("a text preview is written as HTML: give --out a name ending in .html")
    if args.text is not None or args.images:
        data = read_text_files(args.images, args.text)
        rows = torch.arange(min(args.n, len(data)))
    else:
        data = load_dataset(args.dataset if args.dataset != "shapes" else "corpus")
        if data.modality != "text":
            raise ConfigError(f"{task.name} is a text task: use --text, .txt/.csv files or --dataset corpus")
        rows = torch.randperm(len(data), generator=torch.Generator().manual_seed(args.seed))[: args.n]
    task.setup(data)
    items = task.explain(task.prepare(data.tokens[rows], torch.Generator().manual_seed(args.seed)))
    print("\n".join(text_preview_lines(items)))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text_preview_html(task, items), encoding="utf-8")
        print(f"wrote {out}")
    return 0


def _preview(args) -> int:
    import torch

    from sslcore.data import load_dataset
    from sslcore.preview import render_preview
    from sslcore.tasks import get_task
    from sslcore.tasks.base import parse_param_args

    task = get_task(args.task, task_params(args, args.task, parse_param_args(args.param)))
    if not 1 <= args.n <= MAX_PREVIEW_IMAGES:
        raise ConfigError(f"-n must be between 1 and {MAX_PREVIEW_IMAGES}, got {args.n}")
    if task.modality == "text":
        return _preview_text(task, args)
    if args.text is not None:
        raise ConfigError(f"--text is for text tasks; {task.name} works on images")
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


class ProgressPrinter:
    """A one-line progress bar on stderr (redrawn in place on a terminal, a line every few s otherwise)."""

    def __init__(self, label: str, stream=None):
        self.label, self.stream = label, stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last, self.knn = 0.0, None

    def __call__(self, event: dict) -> None:
        import time

        kind = event["kind"]
        if kind == "probe":
            self.knn = event["knn"]
        elif kind == "evaluating":
            self._write(f"{self.label}: evaluating (linear probe, kNN, 2-D map)…", final=True)
        elif kind == "step":
            now = time.monotonic()
            if now - self.last < (0.25 if self.tty else 5.0) and event["progress"] < 1:
                return
            self.last = now
            width = 24
            filled = int(width * event["progress"])
            knn = f" kNN {self.knn:.2f}" if self.knn is not None else ""
            self._write(
                f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {100 * event['progress']:3.0f}% "
                f"loss {event['loss']:.3f} pretext {event['metric']:.3f}{knn} "
                f"{event['images_per_s']:.0f} img/s ETA {event['eta']:.0f}s"
            )

    def _write(self, text: str, final: bool = False) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def config_from_args(args, task: str) -> TrainConfig:
    from sslcore.models import parse_backbone_args
    from sslcore.tasks.base import parse_param_args
    from sslcore.train import TrainConfig

    return TrainConfig(
        task=task,
        dataset=args.dataset,
        budget=None if args.epochs is not None else args.budget,
        epochs=args.epochs,
        compute=args.compute,
        max_seconds=args.max_seconds,
        n=args.n,
        image_size=args.size,
        seq_len=args.seq_len,
        backbone=args.backbone,
        backbone_args=parse_backbone_args(args.backbone_arg),
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        device=args.device,
        seed=args.seed,
        params=task_params(args, task, parse_param_args(getattr(args, "param", None))),
    ).validate()


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def print_summary(r: dict, out=None) -> None:
    base = r["baseline"]
    lines = [f"{r['task']} on {r['dataset']} ({r['device']}, {spent(r)})"]
    if r.get("under_budget"):
        lines.append(f"  UNDER BUDGET: stopped by the {r['config']['max_seconds']:g} s safety cap")
    if r.get("pretext_metric") is not None:
        lines.append(f"  {r['metric_label']:<34} {r['pretext_metric']:.3f}")
    gain = 100 * (r["linear_probe"] - base["linear_probe"])
    lines.append(
        f"  {'linear probe':<34} {_pct(r['linear_probe'])}  (random init {_pct(base['linear_probe'])}, {gain:+.1f} points)"
    )
    lines.append(f"  {'kNN (k=20)':<34} {_pct(r['knn'])}  (random init {_pct(base['knn'])})")
    lines.append(f"  {'time':<34} {r['train_seconds']:.1f} s training, {r['timings']['total']:.1f} s in all")
    print("\n".join(lines), file=out or sys.stdout)


def spent(r: dict) -> str:
    """'26 steps · 6,656 images · 2.4 TFLOP · 31 s': what a result rests on."""
    from sslcore.flops import format_flops

    parts = [f"{r['steps']} steps"]
    if "images_seen" in r:
        parts += [f"{r['images_seen']:,} images", format_flops(r["flops"])]
    return " · ".join([*parts, f"{r['train_seconds']:.0f} s"])


def budget_from_seconds(args, backbone: str, backbone_args: dict | None = None) -> None:
    """Comparisons spend compute: ``--budget`` seconds become FLOPs at this machine's measured speed
    (unless --compute, --epochs or --wall-clock is given), with a generous wall-clock cap."""
    from sslcore.budget import describe, safety_cap
    from sslcore.paths import data_dir
    from sslcore.speed import measure_speed

    if args.compute is not None or args.epochs is not None or args.wall_clock:
        return
    speed = measure_speed(backbone, args.device, data_dir() / "cache", backbone_args=backbone_args or None)
    args.compute = args.budget * speed
    args.max_seconds = args.max_seconds or safety_cap(args.budget)
    if not args.json:
        print(f"budget: {describe(args.compute, speed)} (this machine: {speed / 1e9:.0f} GFLOP/s measured)")


def _train(args) -> int:
    from sslcore.experiment import run_experiment

    config = config_from_args(args, args.task)
    printer = None if args.json else ProgressPrinter(args.task)
    results = run_experiment(config, args.out, on_event=printer)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_summary(results)
        if args.out:
            print(f"  saved to {args.out}")
    return 0


def _compare(args) -> int:
    from sslcore.experiment import random_init_baseline, run_experiment
    from sslcore.fewlabel import LABELS_PER_CLASS
    from sslcore.train import RUN_KINDS, TrainConfig, load_run_data

    if args.quick:
        return _quick(args)
    if not args.tasks:
        raise ConfigError("give --tasks (e.g. rotation,jigsaw,simclr) or --quick")
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in RUN_KINDS]
    if not tasks or unknown:
        raise ConfigError(f"unknown task(s) {', '.join(unknown) or '(none given)'}; available: {', '.join(RUN_KINDS)}")
    if args.with_supervised and SUPERVISED not in tasks:
        tasks.append(SUPERVISED)
    if args.dataset is None:  # the default data of the first task (shapes, or the corpus for text tasks)
        args.dataset = TrainConfig(task=tasks[0]).dataset
    from sslcore.fewlabel import parse_labels_per_class

    if not 1 <= args.seeds <= MAX_SEEDS:
        raise ConfigError(f"--seeds must be from 1 to {MAX_SEEDS}, got {args.seeds}")
    k = parse_labels_per_class(args.labels_per_class)
    ks = sorted({*LABELS_PER_CLASS, k} - {None})
    configs = [config_from_args(args, t) for t in tasks]  # every setting checked before measuring the speed
    budget_from_seconds(args, configs[0].backbone, configs[0].backbone_args)
    rows, baselines, few = [], [], None
    with tempfile.TemporaryDirectory(prefix="pretext-lab-compare-") as scratch:
        root = Path(args.out or scratch)  # fine-tunes start from the runs' saved weights
        for seed in range(args.seed, args.seed + args.seeds):  # each seed: its own data draw, baseline and runs
            configs = [dataclasses.replace(config_from_args(args, t), seed=seed).validate() for t in tasks]
            data = load_run_data(configs[0])  # one dataset for all tasks of a seed: a fair comparison
            baselines.append(random_init_baseline(configs[0], data))
            first, folders = len(rows), {}
            few_seed = args.labels_per_class is not None and seed == args.seed  # the few-label table: the first seed
            for config in configs:
                out = None
                if args.out or few_seed:  # kept: asked for, or fine-tuned below
                    out = folders[config.task] = root / config.task / (f"seed{seed}" if args.seeds > 1 else "")
                label = f"{config.task} seed {seed}" if args.seeds > 1 else config.task
                printer = None if args.json else ProgressPrinter(label)
                rows.append(run_experiment(config, out, on_event=printer, data=data, label_ks=ks))
            if few_seed:
                few = few_label_rows(args, configs, rows[first:], data, k, ks, folders)
    if args.json:
        summary = {t: _task_spread([r for r in rows if r["task"] == t]) for t in tasks}
        seeded = [{**b, "seed": args.seed + i} for i, b in enumerate(baselines)]
        extra = {"few_labels": few} if few else {}
        print(
            json.dumps(
                {"baseline": baselines[0], "baselines": seeded, "runs": rows, "spread": summary, **extra}, indent=2
            )
        )
        return 0
    from sslcore.flops import format_flops
    from sslcore.uploads import dataset_label

    first = rows[0]
    same = format_flops(first["config"]["compute"]) + " of compute" if args.compute else "the same budget"
    seeds = f"{args.seeds} seeds ({args.seed}–{args.seed + args.seeds - 1}), " if args.seeds > 1 else ""
    print(f"\n{len(rows)} runs on {dataset_label(args.dataset)}, {first['device']}, {seeds}{same} each")
    print(f"{'run':<20}{'pretext metric':>16}{'linear probe':>22}{'vs random':>11}{'kNN':>9}{'steps':>8}{'test':>7}")
    base = _task_spread(baselines)
    print(
        f"{RANDOM_INIT:<20}{'—':>16}{_spread_text(base['linear_probe']):>22}{'':>11}{_pct(base['knn']['mean']):>9}{0:>8}"
    )
    for task in tasks:
        mine = [r for r in rows if r["task"] == task]
        stats = _task_spread(mine)
        metric = [r["pretext_metric"] for r in mine if r.get("pretext_metric") is not None]
        metric = f"{sum(metric) / len(metric):.3f}" if metric else "—"
        gain = f"{100 * (stats['linear_probe']['mean'] - base['linear_probe']['mean']):+.1f}"
        print(
            f"{task:<20}{metric:>16}{_spread_text(stats['linear_probe']):>22}{gain:>11}"
            f"{_pct(stats['knn']['mean']):>9}{mine[0]['steps']:>8}{mine[0].get('test_images', '?'):>7}"
        )
    for r in rows:
        if r.get("under_budget"):
            print(f"  ! {r['task']} (seed {r['config']['seed']}): under budget, stopped by the safety cap")
    print(
        "spent: " + ", ".join(f"{r['task']} {r['steps']} steps, {format_flops(r['flops'])}" for r in rows[: len(tasks)])
    )
    print(f"chance: {chance_points(first.get('num_classes')):.1f}% ({first.get('num_classes')} classes)")
    for r in rows:
        for warning in flags(r, r.get("config") or {}):
            print(f"  ! {r['task']} (seed {r['config']['seed']}): {warning}")
    if few:
        print_few_labels(few, args.labels_per_class)
    return 0


def _quick(args) -> int:
    """Exactly the Home page's quick comparison (sslcore.plans), in this process: random init first, each run,
    then the fine-tunes and supervised from scratch; the lesson and the wall time at the end."""
    from sslcore.experiment import random_init_baseline, run_experiment
    from sslcore.finetune import load_source
    from sslcore.kinds import BASELINE_OVERRIDES
    from sslcore.lesson import comparison_lesson
    from sslcore.plans import quick_finetunes, quick_runs
    from sslcore.train import TrainConfig, load_run_data

    tick = time.perf_counter()
    runs = quick_runs(args.seed)
    data = load_run_data(runs[0])
    rows, timeline = [], []
    with tempfile.TemporaryDirectory(prefix="pretext-lab-quick-") as scratch:
        root = Path(args.out or scratch)
        base = TrainConfig(**{**runs[0].to_dict(), **BASELINE_OVERRIDES})
        for config in [base, *runs]:
            printer = None if args.json else ProgressPrinter(config.task)
            rows.append(
                run_experiment(
                    config, root / config.task, on_event=printer, data=data, data_dir=getattr(args, "data_dir", None)
                )
            )
            timeline.append({"run": config.task, "ended_s": round(time.perf_counter() - tick, 1)})
        ids = [f"{i:012x}" for i in range(len(runs))]  # not stored: ids that tie each fine-tune to its source folder
        folders = {run_id: root / config.task for run_id, config in zip(ids, runs)}
        for config in quick_finetunes(runs, ids):
            source = load_source(folders[config.init_from], config.init_from) if config.init_from else None
            name = tuned_name(
                next((c.task for i, c in zip(ids, runs) if i == config.init_from), None), config.labels_per_class
            )
            printer = None if args.json else ProgressPrinter(name)
            row = run_experiment(
                config, None, on_event=printer, data=data, source=source, data_dir=getattr(args, "data_dir", None)
            )
            rows.append(row)
            timeline.append({"run": name, "ended_s": round(time.perf_counter() - tick, 1)})
    wall = time.perf_counter() - tick
    baseline = random_init_baseline(base, data, getattr(args, "data_dir", None))
    summary = quick_summary(rows, baseline)
    lesson = comparison_lesson(rows)
    if args.json:
        print(json.dumps({**summary, "lesson": lesson, "wall_s": wall, "timeline": timeline, "runs": rows}, indent=2))
        return 0
    print(f"\nquick comparison: {len(rows)} runs in {wall:.0f} s")
    for task, above in summary["above_random_init"].items():
        print(
            f"  {task:<12} linear probe {_pct(above['linear_probe'])} vs random init {_pct(above['baseline'])}: "
            f"{'above' if above['above'] else 'NOT above'} (±{above['noise_points']:.1f} points)"
        )
    for sentence in lesson:
        print(f"  {sentence}")
    return 0


def quick_summary(rows: list[dict], baseline: dict) -> dict:
    """Which tasks beat random init by more than the test set's noise, and fine-tune@k of the best task
    against supervised from scratch@k (what `compare --quick --json` reports)."""
    from sslcore.context import noise_points

    pretext = [r for r in rows if r["task"] not in (RANDOM_INIT, SUPERVISED, FINETUNE)]
    above = {}
    for r in pretext:
        noise = noise_points(r["test_images"]) or 0.0
        gain = 100 * (r["linear_probe"] - baseline["linear_probe"])
        above[r["task"]] = {
            "linear_probe": r["linear_probe"], "baseline": baseline["linear_probe"], "noise_points": noise,
            "steps": r["steps"], "above": gain > noise,
        }  # fmt: skip
    tuned = [r["finetune"] for r in rows if r["task"] == FINETUNE]
    scratch = next((f for f in tuned if not f.get("source_task")), None)
    best = max((f for f in tuned if f.get("source_task")), key=lambda f: f["accuracy"], default=None)
    return {
        "above_random_init": above,
        "finetune_best": best and {"task": best["source_task"], "accuracy": best["accuracy"]},
        "scratch": scratch and scratch["accuracy"],
        "finetune_best_above_scratch": bool(best and scratch and best["accuracy"] > scratch["accuracy"]),
    }


def few_label_rows(args, configs, rows, data, k, ks, folders: dict[str, Path]) -> list[dict]:
    """Probe@k (median of the curve's draws), kNN@k and fine-tune@k of every compared run, and the
    supervised-from-scratch reference: the same fine-tune recipe started from random init."""
    from sslcore.experiment import run_experiment
    from sslcore.fewlabel import ALL
    from sslcore.finetune import finetune_config, load_source
    from sslcore.names import SCRATCH

    few = []
    sources = [(c, r) for c, r in zip(configs, rows) if c.task not in (SUPERVISED, RANDOM_INIT)]
    for config, result in [(configs[0], None), *sources]:
        source = None if result is None else load_source(folders[config.task], config.task)
        init_from = None if result is None else f"{len(few):012x}"  # not stored: an id for the recipe only
        tuned = finetune_config(
            config.to_dict(), init_from, k, budget=args.finetune_budget, epochs=args.finetune_epochs or None
        )
        name = SCRATCH if result is None else config.task
        printer = None if args.json else ProgressPrinter(tuned_name(None if result is None else config.task, k))
        done = run_experiment(tuned, None, on_event=printer, data=data, source=source, label_ks=ks, embed="pca")
        point = None if result is None else next(p for p in result["label_curve"]["points"] if p["k"] == (k or ALL))
        few.append(
            {
                "run": name,
                "labels_per_class": k or ALL,
                "linear_probe": None if result is None else point["linear_probe"]["median"],
                "linear_probe_spread": None if result is None else point["linear_probe"]["std"],
                "knn": None if result is None else point["knn"]["median"],
                "finetune": done["finetune"]["accuracy"],
                "finetune_steps": done["steps"],
                "test_size": done["finetune"]["test_size"],
            }
        )
    return few


def print_few_labels(few: list[dict], k) -> None:
    print(
        f"\nwith {k} labels per class (probe: median of the draws; fine-tune: one recipe, {few[0]['finetune_steps']} steps)"
    )
    print(f"{'run':<26}{'linear probe':>14}{'kNN':>9}{'fine-tune':>11}")
    for r in few:
        print(f"{r['run']:<26}{_pct(r['linear_probe']):>14}{_pct(r['knn']):>9}{_pct(r['finetune']):>11}")
    print(f"test set: {few[0]['test_size']} examples")


def _finetune(args) -> int:
    from sslcore.experiment import run_experiment
    from sslcore.names import labels_words, run_label
    from sslcore.runs import RunStore

    store = RunStore(args.data_dir)
    config = finetune_from_store(store, args.run_id, args)
    name = f"{run_label(store.get(args.run_id), store.get)} → fine-tuned on {labels_words(config.labels_per_class)}"
    printer = None if args.json else ProgressPrinter(name)
    results = run_experiment(config, args.out, on_event=printer, data_dir=store.root)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    tuned = results["finetune"]
    print(
        f"{name} (run {args.run_id}'s backbone, {plural(tuned['labels'], 'label')}), "
        f"{plural(results['steps'], 'step')}: fine-tuned accuracy {_pct(tuned['accuracy'])} "
        f"on {plural(tuned['test_size'], 'test example')}"
    )
    if args.out:
        print(f"  saved to {args.out}")
    return 0


def finetune_from_store(store, run_id: str, args) -> TrainConfig:
    """The fine-tune config of stored run ``run_id`` (its dataset, split and backbone), from --labels-per-class
    and --budget or --epochs."""
    from sslcore.fewlabel import parse_labels_per_class
    from sslcore.finetune import finetune_config

    source = store.get(run_id)
    if source.status != "succeeded":
        raise ConfigError(f"run {run_id} is {source.status}: only a finished run can be fine-tuned")
    k = parse_labels_per_class(args.labels_per_class)
    return finetune_config(source.config, source.id, k, budget=args.budget, epochs=args.epochs)


def tuned_name(source_task: str | None, labels_per_class) -> str:
    """A fine-tune the command line runs without a store, named as the pages name it (sslcore.names)."""
    from sslcore.fewlabel import ALL
    from sslcore.names import SCRATCH, labels_words, task_words

    how = labels_words(None if labels_per_class in (None, ALL) else labels_per_class)
    return f"{SCRATCH} on {how}" if source_task is None else f"{task_words(source_task)} → fine-tuned on {how}"


def _task_spread(rows: list[dict]) -> dict:
    return {key: spread([r[key] for r in rows]) for key in ("linear_probe", "knn")}


def _spread_text(stats: dict) -> str:
    """'62.0%' for one seed; '62.0% (58.1–65.3)' as mean (lowest–highest) over several."""
    if stats["n"] <= 1:
        return _pct(stats["mean"])
    return f"{_pct(stats['mean'])} ({100 * stats['min']:.1f}–{100 * stats['max']:.1f})"


def _submit(args) -> int:
    from sslcore.fewlabel import parse_labels_per_class
    from sslcore.runs import RunStore

    if not args.task and not args.finetune:
        raise ConfigError("submit needs --task NAME, or --finetune RUN_ID")
    store = RunStore(args.data_dir)
    if args.finetune:
        config = finetune_from_store(store, args.finetune, args)
    elif args.task == FINETUNE:  # from random init: supervised from scratch with the fine-tune recipe
        from sslcore.finetune import finetune_config

        base = config_from_args(args, SUPERVISED).to_dict()
        config = finetune_config(
            base, None, parse_labels_per_class(args.labels_per_class), budget=base["budget"], epochs=base["epochs"]
        )
    else:
        config = config_from_args(args, args.task)
        if args.labels_per_class is not None:
            config.labels_per_class = parse_labels_per_class(args.labels_per_class)
            config.validate()
    run_id = store.submit(config, owner=acting_owner(args, args.data_dir))
    if not args.no_worker:
        from sslcore.runs import ensure_worker

        ensure_worker(args.data_dir, device=args.device)
    print(json.dumps({"id": run_id}) if args.json else run_id)
    return 0


def _run_line(run, name: str | None = None) -> str:
    """One row of `runs list`: the id (what the other commands take), status, the run's name (``name``: among
    the listed runs, sslcore.names), data, owner, and what it scored: a fine-tune its fine-tuned accuracy."""
    from sslcore.names import run_label
    from sslcore.uploads import dataset_label

    progress = ""
    if run.status == "running" and run.progress and run.progress.get("kind") == "step":
        progress = f"{100 * run.progress['progress']:.0f}% loss {run.progress['loss']:.3f}"
    elif run.status == "succeeded" and run.results and run.results.get("finetune"):
        progress = f"fine-tuned accuracy {_pct(run.results['finetune']['accuracy'])}"
    elif run.status == "succeeded" and run.results:
        progress = f"probe {_pct(run.results['linear_probe'])} kNN {_pct(run.results['knn'])}"
    elif run.error:
        progress = run.error
    dataset = dataset_label(run.config.get("dataset"))
    name = name or run_label(run)
    return f"{run.id}  {run.status:<10} {name:<28} {dataset:<8} {(run.owner or '-')[:16]:<16} {progress}"


def _runs(args) -> int:
    import time

    from sslcore.runs import TEACHER_TOKEN_ENV, RunStore, is_teacher

    store = RunStore(args.data_dir)
    if args.action == "list":
        store.reap_stale()
        runs = store.list()
        if args.json:
            print(json.dumps([vars(r) for r in runs], indent=2, default=float))
        else:
            from sslcore.names import run_labels

            names = run_labels(runs, store.get)
            for run in runs:
                print(_run_line(run, names[run.id]))
            if not runs:
                print("no runs yet: python -m sslcore submit --task rotation")
        return 0
    if not args.id:
        raise ConfigError(f"runs {args.action} needs a run id")
    if args.action == "show":
        run = store.get(args.id)
        print(json.dumps(vars(run), indent=2, default=float) if args.json else _run_line(run, _alone(run, store)))
    elif args.action in ("cancel", "delete"):
        token = os.environ.get(TEACHER_TOKEN_ENV)  # the teacher needs no name
        by = None if is_teacher(token) else acting_owner(args, args.data_dir)
        if args.action == "cancel":
            run = store.cancel(args.id, by=by, token=token)
            print(_run_line(run, _alone(run, store)))
        else:
            store.delete(args.id, by=by, token=token)
            print(f"deleted {args.id}")
    elif args.action == "wait":
        deadline = time.monotonic() + args.timeout
        while not (run := store.get(args.id)).done:
            if time.monotonic() > deadline:
                raise ConfigError(f"run {args.id} is still {run.status} after {args.timeout:g} s")
            store.reap_stale()
            time.sleep(0.5)
        print(json.dumps(vars(run), indent=2, default=float) if args.json else _run_line(run, _alone(run, store)))
        return 0 if run.status == "succeeded" else 1
    return 0


def _alone(run, store) -> str:
    """One run's name on its own (a fine-tune's source found in the store)."""
    from sslcore.names import run_label

    return run_label(run, store.get)


def _worker(args) -> int:
    from sslcore.runs import serve

    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    ray = {"address": args.ray_address, "gpus_per_run": args.ray_gpus, "cpus_per_run": args.ray_cpus}
    options = ray if args.executor == "ray" else {}
    return serve(args.data_dir, args.device, args.concurrency, args.idle_exit, args.worker_id, args.executor, **options)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options shared by train, compare (and later submit): one definition, one meaning."""
    from sslcore.models import describe_backbones
    from sslcore.train import MAX_BUDGET_S, OPTIMIZERS

    p.add_argument(
        "--dataset",
        help="shapes, digits, cifar10, corpus (text), a folder / .zip with class folders, or a .csv with text,label "
        "columns (default: shapes for image tasks, corpus for text tasks)",
    )
    p.add_argument("--budget", type=float, default=60.0, help=f"training seconds per run (max {MAX_BUDGET_S})")
    p.add_argument(
        "--compute",
        type=_flops,
        help="FLOPs of training per run, e.g. 2.4T: the same steps on any machine, at any load",
    )
    p.add_argument("--max-seconds", type=float, help="wall-clock safety cap of a --compute or --epochs run")
    p.add_argument("--epochs", type=float, help="train for this many epochs instead of a time budget")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda or mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, help="dataset size (default: shapes 2000, others all)")
    p.add_argument("--size", type=int, default=32, help="image side in pixels")
    p.add_argument("--seq-len", type=int, default=40, help="tokens per sentence (text datasets)")
    p.add_argument("--backbone", help=f"the network trained and evaluated: {describe_backbones()}")
    p.add_argument(
        "--backbone-arg",
        action="append",
        metavar="KEY=VALUE",
        help="a constructor argument of the backbone, repeatable, e.g. widths=16,32,64 (default: its defaults)",
    )
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--optimizer", default="adamw", choices=list(OPTIMIZERS))
    p.add_argument("--lr", type=float, help="learning rate (default: adamw 2e-3, sgd 0.05)")
    p.add_argument("--out", help="folder for the run's files (weights, metrics, results, embedding)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_custom_option(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sslcore", description="Pretext Lab: self-supervised pretext tasks."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks", help="list the pretext tasks and their parameters (and your custom tasks)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_owner(p, "also list this person's custom tasks (published ones are always listed)")
    add_data_dir(p)
    p.set_defaults(func=_tasks)

    p = sub.add_parser("datasets", help="list the built-in datasets")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_datasets)

    p = sub.add_parser("preview", help="render what a task feeds the network, and its pseudo-labels, as a PNG")
    p.add_argument("task", help="task name (see `tasks`)")
    p.add_argument("images", nargs="*", help="your own image files, or .txt/.csv files for text tasks")
    p.add_argument("--text", help="text to preview a text task on (paragraphs separated by blank lines)")
    p.add_argument("--out", help="PNG file to write (default: TASK-preview.png); .html for text tasks")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same picture")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="task parameter, repeatable")
    p.add_argument("--dataset", default="shapes", help="built-in samples when no files are given (text: corpus)")
    p.add_argument("-n", type=int, default=PREVIEW_IMAGES, help="number of built-in samples (images or sentences)")
    p.add_argument("--size", type=int, default=64, help="image side in pixels")
    add_custom_option(p)
    add_data_dir(p)
    p.set_defaults(func=_preview)

    p = sub.add_parser("train", help="train one task for a time budget and evaluate it against random init")
    p.add_argument("--task", required=True, help="a task name, supervised, or random_init")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="task parameter, repeatable")
    add_run_options(p)
    p.set_defaults(func=_train)

    p = sub.add_parser(
        "compare", help="train several tasks on the same compute (--budget seconds converted here) and print a table"
    )
    p.add_argument("--tasks", help="comma-separated task names, e.g. rotation,jigsaw,simclr")
    p.add_argument(
        "--no-supervised", dest="with_supervised", action="store_false", help="skip the supervised reference"
    )
    p.add_argument("--quick", action="store_true", help="the Home page's quick comparison (its tasks and compute)")
    p.add_argument(
        "--wall-clock", action="store_true", help="give each run --budget seconds instead of converting them to compute"
    )
    p.add_argument(
        "--labels-per-class",
        metavar="K",
        help="also report probe@K, kNN@K and fine-tune@K of every run, and supervised from scratch@K (K or 'all')",
    )
    p.add_argument("--finetune-budget", type=float, help="seconds per fine-tune draw (default: the recipe's length rule)")
    p.add_argument("--finetune-epochs", type=float, help="epochs per fine-tune instead of --finetune-budget")
    p.add_argument(
        "--seeds",
        type=int,
        default=1,
        help=f"repeat every run with seeds SEED, SEED+1, … (1-{MAX_SEEDS}): shows the spread",
    )
    add_run_options(p)
    p.set_defaults(func=_compare)

    p = sub.add_parser("finetune", help="fine-tune a finished run's backbone + a linear head on K labels per class")
    p.add_argument("run_id", help="id of a finished run (see `runs`)")
    p.add_argument("--labels-per-class", required=True, metavar="K", help="labelled examples per class, or 'all'")
    p.add_argument("--budget", type=float, help="training seconds per draw (default: the recipe's length rule)")
    p.add_argument("--epochs", type=float, help="train for this many epochs (of the K-per-class set) instead")
    p.add_argument("--out", help="folder for the fine-tuned run's files")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_data_dir(p)
    p.set_defaults(func=_finetune)

    p = sub.add_parser("submit", help="queue a run for the background worker; prints its id")
    p.add_argument("--task", help="a task name, supervised, random_init, or finetune (from random init)")
    p.add_argument("--finetune", metavar="RUN_ID", help="queue a fine-tune of this finished run instead of --task")
    p.add_argument("--labels-per-class", metavar="K", help="supervised and finetune runs: K labels per class")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="task parameter, repeatable")
    p.add_argument("--no-worker", action="store_true", help="do not start a worker if none is running")
    add_owner(p, "who the run belongs to: only they (or the teacher) may cancel or delete it")
    add_run_options(p)
    add_data_dir(p)
    p.set_defaults(func=_submit)

    p = sub.add_parser("runs", help="list, show, cancel, delete or wait for runs in the store")
    p.add_argument("action", nargs="?", default="list", choices=["list", "show", "cancel", "delete", "wait"])
    p.add_argument("id", nargs="?", help="run id (for show, cancel, delete, wait)")
    p.add_argument("--timeout", type=float, default=3600.0, help="for wait: give up after this many seconds")
    p.add_argument("--json", action="store_true")
    add_owner(p, "who you are, for cancel and delete (the teacher: set $PRETEXT_LAB_TEACHER_TOKEN)")
    add_data_dir(p)
    p.set_defaults(func=_runs)

    p = sub.add_parser("worker", help="serve the run queue in this process")
    p.add_argument("--concurrency", type=int, default=1, help="worker processes (default 1: one run per device)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--idle-exit", type=float, help="exit after this many idle seconds")
    p.add_argument("--worker-id", help=argparse.SUPPRESS)
    add_executor_options(p)
    add_data_dir(p)
    p.set_defaults(func=_worker)
    add_commands(sub, add_run_options, add_data_dir, add_owner)
    return parser


def _flops(text: str) -> float:
    from sslcore.flops import parse_flops

    try:
        return parse_flops(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """Where the worker sends runs. The defaults come from the environment, so `make run` can choose Ray."""
    from sslcore.runs.worker import EXECUTOR_ENV, RAY_ADDRESS_ENV, RAY_CPUS_ENV, RAY_GPUS_ENV

    env = os.environ.get
    p.add_argument(
        "--executor",
        default=env(EXECUTOR_ENV) or "local",
        help=f"local (this machine, the default) or ray (a Ray cluster; needs requirements-ray.txt); ${EXECUTOR_ENV}",
    )
    p.add_argument(
        "--ray-address",
        default=env(RAY_ADDRESS_ENV),
        help=f"the Ray head, e.g. 10.0.0.5:6379 (default ${RAY_ADDRESS_ENV}, else Ray's own RAY_ADDRESS or a local cluster)",
    )
    p.add_argument(
        "--ray-gpus",
        type=float,
        default=env(RAY_GPUS_ENV),  # a string default goes through type=float, with argparse's message
        help=f"GPUs per run, fractions share a GPU (default 0.25 if the cluster has GPUs, else 0); ${RAY_GPUS_ENV}",
    )
    p.add_argument(
        "--ray-cpus",
        type=float,
        default=env(RAY_CPUS_ENV) or "1",
        help=f"CPUs per run (default 1); ${RAY_CPUS_ENV}",
    )


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="where runs are stored (default: $PRETEXT_LAB_DATA_DIR or ./.pretext-lab)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PretextLabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
