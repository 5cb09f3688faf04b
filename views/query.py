"""Explore's settings <-> URL query parameters, as pure functions (no streamlit: property-tested).

A copied link reopens the same view, so everything a person set is in the URL. What comes back from a
URL is untrusted: every value is checked, and anything unknown or out of range is dropped with a note.
"""

from __future__ import annotations

from collections.abc import Mapping

from sslcore import lab

SIZES = lab.PREVIEW_SIZES
MAX_COUNT = lab.MAX_PREVIEW_COUNT
DEFAULT_TASK = "rotation"
MAX_VALUE_CHARS = 100  # longer query values are not even parsed
ALLOWED = {"image_size": SIZES, "count": range(1, MAX_COUNT + 1), "seed": range(0, lab.MAX_SEED + 1)}
RESERVED = ("task", "source", *ALLOWED)  # no task knob may use these names (tests check)


def sources_for(task: str) -> dict[str, str]:
    """Data sources for a task: text ones for text tasks, image ones for image tasks (custom tasks included)."""
    return lab.data_menu("explore", "text" if lab.run_modality(task) == "text" else "image")


def settings_from_query(query: Mapping[str, str]) -> tuple[dict, list[str]]:
    """Checked widget values (session-state keys → values) from URL query parameters, and notes on what was dropped."""
    notes: list[str] = []

    def get(key: str) -> str | None:
        value = query.get(key)
        if value is None:
            return None
        value = str(value)
        if len(value) > MAX_VALUE_CHARS:
            notes.append(f"ignored {key} from the link: the value is too long")
            return None
        return value

    task = get("task") or DEFAULT_TASK
    if task not in lab.TASKS:
        notes.append(f"unknown task {task!r} in the link")
        task = DEFAULT_TASK
    settings: dict = {"task": task}
    source = get("source")
    if source is not None:
        if source in sources_for(task):
            settings["text_source" if lab.TASKS[task].modality == "text" else "source"] = source
        else:
            notes.append(f"ignored source={source!r} from the link")
    for key, state_key in (("image_size", "size"), ("count", "count"), ("seed", "seed")):
        raw = get(key)
        if raw is None:
            continue
        try:
            value = int(raw)
            if value not in ALLOWED[key]:
                raise ValueError
            settings[state_key] = value
        except ValueError:
            notes.append(f"ignored {key}={raw!r} from the link")
    for spec in lab.param_specs(lab.TASKS[task].Params):
        raw = get(spec.name)
        if raw is None:
            continue
        try:
            settings[f"{task}.{spec.name}"] = getattr(lab.make_params(lab.TASKS[task].Params, {spec.name: raw}), spec.name)
        except lab.ConfigError as err:
            notes.append(f"ignored from the link: {err}")
    return settings, notes


def query_from_settings(task: str, source: str, size: int, count: int, seed: int, params: dict) -> dict[str, str]:
    """The URL for these settings: task, data source, size, count, seed, and the knobs changed from default."""
    defaults = {spec.name: spec.default for spec in lab.param_specs(lab.TASKS[task].Params)}
    changed = {name: str(value) for name, value in params.items() if value != defaults.get(name)}
    query = {"task": task, "source": source, "count": str(count), "seed": str(seed), **changed}
    if lab.TASKS[task].modality == "image":
        query["image_size"] = str(size)
    return query
