"""Task-design commands: ``sweep`` (one knob over a few values) and ``custom`` (your own pretext tasks).

Kept apart from ``cli.py`` so the core commands stay short; ``cli.build_parser`` adds these.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from types import SimpleNamespace

from sslcore.cli_owner import acting_owner, reading_owner
from sslcore.errors import ConfigError
from sslcore.kinds import CUSTOM
from sslcore.limits import MAX_DESIGN_FILE_BYTES


# ------------------------------------------------------------------------------------------ custom tasks
def custom_definition(args) -> str:
    """The canonical JSON of ``--custom``: a saved task's id or name, or a .json file of a definition."""
    from sslcore.custom_tasks import CustomTaskStore

    value = getattr(args, "custom", None)
    if not value:
        raise ConfigError("task custom needs --custom NAME_OR_ID (a saved design) or --custom FILE.json")
    if value.lower().endswith(".json"):
        return _read_definition_file(value).to_json()
    return (
        CustomTaskStore(getattr(args, "data_dir", None))
        .find(value, getattr(args, "owner", None), everyone=True)
        .definition.to_json()
    )


class _DefinitionFileError(ConfigError):
    def __init__(self, filename: str, reason: str):
        super().__init__(f"{filename}: {reason}")


def _read_definition_file(path: str):
    """The design in a .json file named on the command line (size-capped, then checked like any design)."""
    from sslcore.cli import read_capped_file
    from sslcore.tasks.custom import parse_definition

    raw = read_capped_file(path, MAX_DESIGN_FILE_BYTES, _DefinitionFileError, "is too large for a task design")
    return parse_definition(raw.decode("utf-8", errors="replace"))


def task_params(args, task: str, params: dict) -> dict:
    """``params`` plus the design of a custom task (from ``--custom``); others unchanged."""
    if task != CUSTOM:
        if getattr(args, "custom", None):
            raise ConfigError("--custom is for --task custom")
        return params
    if "definition" in params:
        return params
    return {**params, "definition": custom_definition(args)}


def custom_lines(tasks) -> list[str]:
    from sslcore.runs.store import display_owner

    lines = []
    for t in tasks:
        shared = " · published" if t.published else ""
        lines.append(f"custom:{t.id}  {t.name}  ({display_owner(t.owner)}{shared})")
        lines.append(f"    {t.definition.to_json()}")
    return lines


def _custom(args) -> int:
    from sslcore.custom_tasks import CustomTaskStore
    from sslcore.runs.store import is_teacher

    store = CustomTaskStore(args.data_dir)
    token = os.environ.get("PRETEXT_LAB_TEACHER_TOKEN") if args.teacher else None
    if args.action == "list":
        tasks = store.visible(reading_owner(args, args.data_dir), token)  # the teacher (--teacher) lists every design
        if args.json:
            print(json.dumps([t.to_dict() for t in tasks], indent=2))
        else:
            print(
                "\n".join(custom_lines(tasks))
                or "no custom tasks yet: python -m sslcore custom save FILE.json --owner NAME"
            )
        return 0
    if not args.target:
        raise ConfigError(f"custom {args.action} needs {'a FILE.json' if args.action == 'save' else 'a task id'}")
    if args.action == "save":
        definition = _read_definition_file(args.target)  # a bad file is refused before a name is claimed
        task = store.save(definition, acting_owner(args, args.data_dir))
        print(json.dumps(task.to_dict()) if args.json else f"saved {task.name!r} as custom:{task.id}")
    elif args.action == "show":
        task = store.get(args.target)
        print(json.dumps(task.to_dict(), indent=2))
    elif args.action in ("publish", "unpublish"):
        task = store.publish(args.target, token, published=args.action == "publish")
        print(f"{task.name!r} is {'visible to everyone' if task.published else 'private again'}")
    elif args.action == "delete":
        store.delete(args.target, None if is_teacher(token) else acting_owner(args, args.data_dir), token)
        print(f"deleted custom:{args.target}")
    return 0


# ------------------------------------------------------------------------------------------------- sweeps
def sweep_request(args):
    """(task, knob, values, fixed params) from ``TASK --param knob=v1,v2 [--param k=v]`` or ``--preset``."""
    from sslcore.sweeps import parse_sweep, preset
    from sslcore.tasks.base import parse_param_args

    items = list(args.param or [])
    if args.preset:
        p = preset(args.preset)
        if args.task and args.task != p.task:
            raise ConfigError(f"preset {p.name} sweeps {p.task}, not {args.task}")
        fixed = {**p.params, **parse_param_args(items)}
        return p.task, p.knob, list(p.values), fixed
    if not args.task:
        raise ConfigError("name a task (python -m sslcore sweep jigsaw --param gap=0,2,4) or a --preset")
    swept = [item for item in items if "," in item]
    if len(swept) != 1:
        raise ConfigError("give exactly one --param with several values, e.g. --param gap=0,2,4")
    knob, values = parse_sweep(args.task, swept[0])
    fixed = parse_param_args([item for item in items if item not in swept])
    return args.task, knob, values, fixed


def run_as_measured(args) -> None:
    """A measured preset runs the setup its note cites (compute, dataset, size, batch) unless the command gives
    its own; what it leaves unset then takes the usual defaults (the sweep parser defaults them to None)."""
    import dataclasses

    from sslcore.sweeps import preset
    from sslcore.train import TrainConfig

    setup = preset(args.preset).setup() if args.preset else {}
    own_budget = args.compute is not None or args.epochs is not None or args.budget is not None or args.wall_clock
    if "compute" in setup and not own_budget:
        args.compute = setup["compute"]
    for option in ("dataset", "n", "batch_size"):
        if getattr(args, option) is None and option in setup:
            setattr(args, option, setup[option])
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    args.budget = defaults["budget"] if args.budget is None else args.budget
    args.batch_size = defaults["batch_size"] if args.batch_size is None else args.batch_size


def _sweep(args) -> int:
    from sslcore.cli import ProgressPrinter, budget_from_seconds, config_from_args
    from sslcore.sweeps import reading, sweep_configs, sweep_points

    task, knob, values, fixed = sweep_request(args)
    run_as_measured(args)
    args.param = [f"{k}={v}" for k, v in fixed.items()]
    base = config_from_args(args, task)  # every setting checked before measuring the speed
    budget_from_seconds(args, base.backbone, base.backbone_args)  # --budget seconds become the same compute for every value
    configs = sweep_configs(config_from_args(args, task), knob, values, args.seeds)
    if args.submit:
        from sslcore.runs import RunStore, ensure_worker

        group, ids = RunStore(args.data_dir).submit_group(configs, owner=acting_owner(args, args.data_dir))
        if not args.no_worker:
            ensure_worker(args.data_dir, device=args.device)
        print(json.dumps({"group": group, "ids": ids}) if args.json else f"sweep {group}: {len(ids)} runs queued")
        return 0
    from sslcore.experiment import run_experiment
    from sslcore.train import load_run_data

    data = load_run_data(configs[0])  # one dataset for every value: only the knob differs
    runs = []
    for config in configs:
        label = f"{task} {knob}={config.params[knob]} seed {config.seed}"
        results = run_experiment(config, None, on_event=None if args.json else ProgressPrinter(label), data=data)
        runs.append(SimpleNamespace(task=task, config=config.to_dict(), results=results))
    points = sweep_points(runs, knob)
    if args.json:
        print(json.dumps({"task": task, "knob": knob, "points": points, "reading": reading(points, knob)}, indent=2))
        return 0
    print(f"\n{task} on {configs[0].dataset}: {knob} over {', '.join(map(str, values))}, {args.seeds} seed(s), medians")
    factor_names = sorted({n for p in points for n in p["factors"]})
    head = f"{knob:>14}{'pretext':>10}{'score':>8}{'probe':>9}{'kNN':>8}{'steps':>8}"
    print(head + "".join(f"{n[:10]:>11}" for n in factor_names))
    for p in points:
        score = "—" if p["pretext_score"] is None else f"{p['pretext_score']:.2f}"
        metric = "—" if p["pretext_metric"] is None else f"{p['pretext_metric']:.3f}"
        factors = "".join(
            "—".rjust(11) if p["factors"][n] is None else f"{p['factors'][n]:>11.2f}" for n in factor_names
        )
        print(
            f"{p['value']!s:>14}{metric:>10}{score:>8}{100 * p['linear_probe']:>8.1f}%{100 * p['knn']:>7.1f}%"
            f"{p['steps']:>8.0f}{factors}"
        )
    print(f"random init linear probe {100 * points[0]['baseline_probe']:.1f}%")
    print(reading(points, knob))
    return 0


def add_commands(sub, add_run_options, add_data_dir, add_owner) -> None:
    """Register ``sweep`` and ``custom`` on the main parser's subparsers."""
    from sslcore.sweeps import PRESETS

    p = sub.add_parser("sweep", help="one task, one knob over a few values, every run with the same compute")
    p.add_argument("task", nargs="?", help="a built-in task (or give --preset)")
    p.add_argument(
        "--param", action="append", metavar="KNOB=V1,V2,...", help="the swept knob (several values); others fixed"
    )
    p.add_argument("--preset", help=f"a published finding to reproduce: {', '.join(PRESETS)}")
    p.add_argument("--seeds", type=int, default=1, help="repeat every value with this many seeds (medians are shown)")
    p.add_argument("--submit", action="store_true", help="queue the sweep for the background worker instead")
    p.add_argument("--no-worker", action="store_true", help="with --submit: do not start a worker")
    p.add_argument(
        "--wall-clock", action="store_true", help="give each run --budget seconds instead of converting them to compute"
    )
    add_run_options(p)
    add_data_dir(p)
    add_owner(p, "with --submit: who the sweep's runs belong to")
    p.set_defaults(func=_sweep, budget=None, batch_size=None)  # unset: a measured --preset fills them in

    p = sub.add_parser("custom", help="your own pretext tasks: list, show, save FILE.json, delete, publish")
    p.add_argument(
        "action", nargs="?", default="list", choices=["list", "show", "save", "delete", "publish", "unpublish"]
    )
    p.add_argument("target", nargs="?", help="FILE.json for save; a task id for the others")
    add_owner(p, "whose designs: yours are the ones saved under the name you use in the app")
    p.add_argument("--teacher", action="store_true", help="act as the teacher ($PRETEXT_LAB_TEACHER_TOKEN)")
    p.add_argument("--json", action="store_true")
    add_data_dir(p)
    p.set_defaults(func=_custom)


def add_custom_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--custom", help="with task custom: a saved design's id (or name), or a definition FILE.json")


def print_custom_section(data_dir=None, owner=None, out=None) -> None:
    from sslcore.custom_tasks import CustomTaskStore

    tasks = CustomTaskStore(data_dir).visible(owner)
    if tasks:
        print("\ncustom tasks (run with --task custom --custom ID):", file=out or sys.stdout)
        print("\n".join(custom_lines(tasks)), file=out or sys.stdout)
