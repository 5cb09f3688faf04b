"""The names a student reads for runs, made in one place: every table, legend, title, picker, warning, CSV
and message of the pages and the command line takes them from here.

A name says what was trained, never which row of the store it is: "jigsaw", "relative position",
"custom: Predict the flip", "supervised", "random init", "jigsaw → fine-tuned on 10 labels/class",
"supervised from scratch on 10 labels/class" (a fine-tune from random init), "supervised from scratch on all
labels". Runs are named together, so a name tells a run apart from the others it is shown with:

1. the knobs that differ between runs of one task ("rotation · angles=2", "rotation · angles=4"); a task with
   no knob that differs shows the knobs it set ("rotation · angles=2" alone too);
2. then, where runs still share a name, the settings that differ between them (dataset, backbone, batch...,
   the person who ran it);
3. then a numbering, for runs that agree in all of that and in their seed ("jigsaw", "jigsaw (2)");
4. a seed only where the runs of one name have different seeds ("rotation · seed 1").

``run_names`` stops before the seed: its names are what a chart groups seeds under. No run id is ever part
of a name (a run's id stays in its details line). No Streamlit, no torch: the store's runs in, words out.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from sslcore.kinds import CUSTOM, FINETUNE, RANDOM_INIT, SUPERVISED
from sslcore.words import plural

if TYPE_CHECKING:
    from sslcore.runs.store import Run

SCRATCH = "supervised from scratch"  # a fine-tune from random init: the same network trained on the labels alone
RANDOM_INIT_WORDS = "random init"
UNKNOWN_SOURCE = "a deleted run"  # a fine-tune whose source run is gone and who never finished
# settings that can tell two runs of one name apart, in the order they are tried (seed is step 4)
SETTINGS = ("dataset", "n", "image_size", "seq_len", "backbone", "backbone_args", "batch_size", "optimizer", "lr",
            "compute", "epochs", "budget", "max_steps", "draws", "owner")  # fmt: skip
SETTING_WORDS = {"n": "{} images", "image_size": "{} px", "batch_size": "batch {}", "lr": "lr {}", "draws": "{} draws"}
Lookup = Mapping[str, "Run"] | Callable[[str], "Run | None"] | None


def labels_words(labels_per_class: int | None) -> str:
    """'10 labels/class', '1 label/class', 'all labels'."""
    if labels_per_class is None:
        return "all labels"
    return f"{plural(labels_per_class, 'label')}/class"


def task_words(task: str) -> str:
    """A run kind or task as a sentence says it: "relative position", "random init", "fine-tunes"."""
    if task == RANDOM_INIT:
        return RANDOM_INIT_WORDS
    if task == FINETUNE:
        return "fine-tunes"
    return task.replace("_", " ")


def _custom_name(run: Run) -> str:
    definition = (run.config.get("params") or {}).get("definition", "")
    try:
        name = json.loads(definition).get("name") if definition else None
    except (ValueError, AttributeError):
        name = None
    return f"{CUSTOM}: {name}" if isinstance(name, str) and name.strip() else CUSTOM


def _knob_value(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_knob_value(v) for v in value)
    return str(value)


def _knobs(run: Run) -> dict:
    """The task's knobs this run set (a custom task's design is its name, not a knob)."""
    if run.task in (FINETUNE, RANDOM_INIT):
        return {}
    return {k: v for k, v in (run.config.get("params") or {}).items() if k != "definition"}


def _setting(run: Run, key: str) -> str:
    if key == "owner":
        from sslcore.runs.store import display_owner

        return f"by {display_owner(run.owner)}"
    value = run.config.get(key)
    if key == "dataset":
        from sslcore.uploads import dataset_label

        return dataset_label(value)
    if key == "backbone_args":
        return " ".join(f"{k}={_knob_value(v)}" for k, v in sorted((value or {}).items())) or "default size"
    if key == "compute" and isinstance(value, (int, float)):
        return f"{value / 1e9:,.0f} GFLOP" if value < 1e12 else f"{value / 1e12:.3g} TFLOP"
    if value is None:
        return f"{key.replace('_', ' ')} default"
    return SETTING_WORDS.get(key, key.replace("_", " ") + " {}").format(_knob_value(value))


def _setting_key(run: Run, key: str) -> str:
    return repr(run.owner) if key == "owner" else json.dumps(run.config.get(key), sort_keys=True, default=str)


def _find(lookup: Lookup, run_id: str) -> Run | None:
    if lookup is None:
        return None
    if callable(lookup):
        try:
            return lookup(run_id)
        except Exception:  # noqa: BLE001 - a store that cannot find it: the run is gone
            return None
    return lookup.get(run_id)


class _Namer:
    """Names for a set of runs (and the sources of its fine-tunes, found through ``lookup``)."""

    def __init__(self, runs: Iterable[Run], lookup: Lookup = None):
        self.shown = list({r.id: r for r in runs}.values())  # each run once, in first-seen order
        self.lookup = lookup
        self.all = {r.id: r for r in self.shown}
        pending = list(self.shown)
        while pending:  # the sources of fine-tunes (and theirs), so a fine-tune is named after its source's name
            run = pending.pop()
            source_id = run.config.get("init_from") if run.task == FINETUNE else None
            if source_id and source_id not in self.all and (source := _find(lookup, source_id)) is not None:
                self.all[source.id] = source
                pending.append(source)
        self.names = self._name_all()

    def _name_all(self) -> dict[str, str]:
        runs = sorted(self.all.values(), key=lambda r: (r.created, r.id))
        names: dict[str, str] = {}
        trained = [r for r in runs if r.task != FINETUNE]
        for run in trained:  # 1. what was trained, with the knobs that tell runs of one task apart
            names[run.id] = self._base(run)
        for group in _groups(trained, names).values():
            knobs = [_knobs(r) for r in group]
            keys = sorted(set().union(*knobs))
            varying = [k for k in keys if len({repr(kn.get(k)) for kn in knobs}) > 1]
            for run, kn in zip(group, knobs):
                shown = [k for k in (varying or keys) if k in kn]
                if shown:
                    names[run.id] += "".join(f" · {k}={_knob_value(kn[k])}" for k in shown)
        self._settings(trained, names)
        self._number(trained, names)
        tuned = [r for r in runs if r.task == FINETUNE]
        for run in _by_depth(tuned, self.all):  # a fine-tune: its source's name, then how it was fine-tuned
            names[run.id] = self._tuned(run, names)
        self._settings(tuned, names)
        self._number(tuned, names)
        return names

    @staticmethod
    def _base(run: Run) -> str:
        if run.task == RANDOM_INIT:
            return RANDOM_INIT_WORDS
        k = run.config.get("labels_per_class")
        if run.task == SUPERVISED:
            return SUPERVISED if k is None else f"{SUPERVISED} on {labels_words(k)}"
        if run.task == CUSTOM:
            return _custom_name(run)
        return task_words(run.task)

    def _tuned(self, run: Run, names: dict[str, str]) -> str:
        how = labels_words(run.config.get("labels_per_class"))
        source_id = run.config.get("init_from")
        if not source_id:
            return f"{SCRATCH} on {how}"
        if source_id in names:
            source = names[source_id]
        else:  # the source is gone: what the fine-tune recorded of it when it finished
            task = ((run.results or {}).get("finetune") or {}).get("source_task")
            source = task_words(task) if task else UNKNOWN_SOURCE
        return f"{source} → fine-tuned on {how}"

    @staticmethod
    def _settings(runs: list[Run], names: dict[str, str]) -> None:
        """2. Runs that share a name: the settings that differ between them (the seed is step 4)."""
        for group in _groups(runs, names).values():
            if len(group) < 2:
                continue
            differ = [k for k in SETTINGS if len({_setting_key(r, k) for r in group}) > 1]
            for run in group:
                names[run.id] += "".join(f" · {_setting(run, k)}" for k in differ)

    @staticmethod
    def _number(runs: list[Run], names: dict[str, str]) -> None:
        """3. Runs alike in all of that and in their seed: numbered in the order they were queued."""
        same: dict[tuple, list[Run]] = {}
        for run in runs:
            same.setdefault((names[run.id], run.config.get("seed")), []).append(run)
        for group in same.values():
            for i, run in enumerate(group[1:], 2):
                names[run.id] += f" ({i})"

    def labels(self) -> dict[str, str]:
        """4. The names, with the seed where runs of one name have different seeds."""
        labels = {}
        for group in _groups(self.shown, self.names).values():
            seeds = {r.config.get("seed") for r in group}
            for run in group:
                seed = f" · seed {run.config.get('seed')}" if len(seeds) > 1 else ""
                labels[run.id] = self.names[run.id] + seed
        return labels


def _groups(runs: list[Run], names: dict[str, str]) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = {}
    for run in runs:
        out.setdefault(names[run.id], []).append(run)
    return out


def _by_depth(tuned: list[Run], known: dict[str, Run]) -> list[Run]:
    """Fine-tunes ordered so a fine-tune's source (itself a fine-tune) is named before it."""

    def depth(run: Run, seen=()) -> int:
        source = known.get(run.config.get("init_from") or "")
        if source is None or source.task != FINETUNE or source.id in seen:
            return 0
        return 1 + depth(source, (*seen, run.id))

    return sorted(tuned, key=lambda r: (depth(r), r.created, r.id))


def run_labels(runs: Iterable[Run], lookup: Lookup = None) -> dict[str, str]:
    """{run id: its name among ``runs``}: unique, no run id in it, the seed where seeds differ.
    ``lookup`` ({id: run} or a function such as ``RunStore.get``) finds fine-tunes' sources not in ``runs``."""
    return _Namer(runs, lookup).labels()


def run_names(runs: Iterable[Run], lookup: Lookup = None) -> dict[str, str]:
    """{run id: its name among ``runs`` without the seed}: runs that differ only in their seed share it (what
    a chart draws as one bar with each seed as a dot)."""
    namer = _Namer(runs, lookup)
    return {r.id: namer.names[r.id] for r in namer.shown}


def run_label(run: Run, lookup: Lookup = None) -> str:
    """One run's name on its own (the knobs it set; a fine-tune's source found through ``lookup``)."""
    return run_labels([run], lookup)[run.id]


def picker_labels(runs: Iterable[Run], lookup: Lookup = None) -> dict[str, str]:
    """{run id: name} for a list that spans comparisons: each run named among its own comparison's runs,
    then, when there are several comparisons, whose and when ("jigsaw · by Ada, 14:02")."""
    runs = list(runs)
    groups: dict[str | None, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.group_id, []).append(run)
    labels = {}
    for members in groups.values():
        labels.update(run_labels(members, lookup or {r.id: r for r in runs}))
    if len(groups) > 1:
        from sslcore.runs.store import display_owner

        for members in groups.values():
            first = min(members, key=lambda r: r.created)
            when = dt.datetime.fromtimestamp(first.created).strftime("%H:%M")
            whose = display_owner(first.owner)
            for run in members:
                labels[run.id] += f" · by {whose}, {when}"
    return _unique(labels, runs)


def _unique(labels: dict[str, str], runs: list[Run]) -> dict[str, str]:
    """Number labels that still coincide, in the order their runs were queued."""
    seen: dict[str, int] = {}
    out = {}
    for run in sorted(runs, key=lambda r: (r.created, r.id)):
        label = labels[run.id]
        seen[label] = seen.get(label, 0) + 1
        out[run.id] = label if seen[label] == 1 else f"{label} ({seen[label]})"
    return out
