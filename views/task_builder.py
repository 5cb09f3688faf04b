"""The custom-task builder (Explore's sidebar when the task is "Your own task") and the saved designs
offered on Train. A thin layer: the design is checked by ``sslcore.tasks.custom.parse_definition`` and
stored by ``sslcore.custom_tasks``; the preview goes through the same ``make_batch`` as training."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from sslcore import lab
from views.custom_query import DESIGN_KEY
from views.owner import me, owner_or_ask, teacher_token

NEW = "new"
TARGET_WORDS = {
    "which": "Which one was applied (classification)",
    "amount": "How much (regression, or k levels)",
    "match": "Do two views match (contrastive)",
}


if TYPE_CHECKING:
    from sslcore.lab import CustomTaskStore, Definition, SavedTask


def task_store() -> CustomTaskStore:
    return lab.CustomTaskStore(lab.data_dir())


def saved_label(task: SavedTask) -> str:
    whose = "yours" if task.owner == me() else f"by {lab.display_owner(task.owner)}"
    return f"{task.name} ({whose}{', published' if task.published else ''})"


def load_design(definition: Definition) -> None:
    """Put a design into the builder's widgets (before they are drawn)."""
    st.session_state["custom.name"] = definition.name
    st.session_state["custom.target"] = definition.target
    st.session_state["custom.transforms"] = [s.name for s in definition.steps]
    for s in definition.steps:
        t = s.transform
        kind = int if t.discrete else float
        st.session_state[f"custom.range.{s.name}"] = (kind(s.low), kind(s.high))
    st.session_state["custom.include_none"] = definition.include_none
    st.session_state["custom.levels"] = definition.levels or 0


def _pick_saved() -> None:
    choice = st.session_state.get("custom.pick")
    if choice in lab.EXAMPLES:
        load_design(lab.EXAMPLES[choice])
    elif choice and choice != NEW:
        try:
            load_design(task_store().get(choice).definition)
        except lab.PretextLabError as err:
            st.session_state["custom.note"] = str(err)


def _load_file() -> None:
    """A design from an uploaded .json (capped); a bad file is a message, and the builder keeps what it had."""
    upload = st.session_state.get("custom.file")
    if upload is None:
        return
    try:
        load_design(lab.read_design(upload.getvalue(), upload.name))
    except lab.PretextLabError as err:
        st.session_state["custom.note"] = str(err)


def _range_widget(name: str) -> tuple[float, float]:
    t = lab.TRANSFORMS[name]
    key = f"custom.range.{name}"
    low, high = t.default_range(st.session_state.get("custom.target"))
    if t.discrete:
        st.session_state.setdefault(key, (int(low), int(high)))
        return st.slider(f"{t.title}{t.unit}", int(t.low), int(t.high), step=1, key=key)
    st.session_state.setdefault(key, (float(low), float(high)))
    step = 0.01 if t.high - t.low <= 2 else 0.05 if t.high - t.low <= 10 else 5.0
    return st.slider(f"{t.title}{t.unit}", float(t.low), float(t.high), step=step, key=key)


def builder_sidebar() -> dict | None:
    """Draw the builder; returns the task's params ({"definition": JSON}) or None (with the reason shown)."""
    if DESIGN_KEY in st.session_state:  # a design from the link: load it once
        try:
            load_design(lab.parse_definition(st.session_state.pop(DESIGN_KEY)))
        except lab.PretextLabError as err:
            st.warning(f"Ignored the custom task in the link: {err}", icon="🔗")
    if "custom.name" not in st.session_state:
        load_design(lab.FLIP_TASK)
    try:
        saved = task_store().visible(me(), teacher_token())
    except lab.PretextLabError as err:
        saved = []
        st.warning(f"Saved designs cannot be read right now: {err}", icon="⚠️")
    options = {
        NEW: "— a new design —",
        **{t.id: saved_label(t) for t in saved},
        **{name: f"📘 example: {name}" for name in lab.EXAMPLES},
    }
    st.selectbox("Start from", list(options), format_func=options.get, key="custom.pick", on_change=_pick_saved)
    st.file_uploader("…or load a design (.json)", type=["json"], key="custom.file", on_change=_load_file)
    if note := st.session_state.pop("custom.note", None):
        st.error(note, icon="⚠️")
    st.text_input("Name", key="custom.name", max_chars=40)
    target = st.radio("The network must predict", list(lab.TARGETS), format_func=TARGET_WORDS.get, key="custom.target")
    chosen = st.multiselect(
        "Transformations",
        list(lab.TRANSFORMS),
        format_func=lambda n: lab.TRANSFORMS[n].title,
        key="custom.transforms",
        help="Each is applied per image with an amount drawn from its range (the jitter).",
    )
    ranges = {name: _range_widget(name) for name in chosen}
    design = {
        "name": st.session_state.get("custom.name", ""),
        "target": target,
        "transforms": [{"name": n, "min": lo, "max": hi} for n, (lo, hi) in ranges.items()],
    }
    if target == "which":
        design["include_none"] = st.toggle("Include 'nothing applied' as a class", key="custom.include_none")
    elif target == "amount":
        levels = st.number_input(
            "Levels (0 = regress the amount)",
            0,
            lab.MAX_LEVELS,
            key="custom.levels",
            help="k ≥ 2: classify which of k evenly spaced amounts was used (one transformation).",
        )
        if levels:
            design["levels"] = int(levels)
    try:
        definition = lab.parse_definition(design)
    except lab.PretextLabError as err:
        st.error(str(err), icon="⚠️")
        return None
    save_buttons(definition, saved)
    return {"definition": definition.to_json()}


def shown_design(definition: Definition, saved: list[SavedTask]) -> SavedTask | None:
    """The saved design the builder shows: the one picked in "Start from" while it is unchanged (a student's,
    for the teacher), else this person's own design of that name."""
    picked = next((t for t in saved if t.id == st.session_state.get("custom.pick")), None)
    if picked is not None and picked.definition.to_json() == definition.to_json():
        return picked
    same = [t for t in saved if t.name.lower() == definition.name.lower()]
    return next((t for t in same if t.owner == me()), same[0] if same else None)


def save_buttons(definition: Definition, saved: list[SavedTask]) -> None:
    """Save the design for this person; the teacher may publish a saved design to the class."""
    left, right = st.columns(2)
    if left.button("💾 Save", help="Keep this design under your name: Train offers it in its task list.") and (
        owner := owner_or_ask()
    ):
        try:
            task = task_store().save(definition, owner)
            st.session_state["custom.saved"] = f"Saved {task.name!r}."
        except lab.PretextLabError as err:
            st.session_state["custom.saved"] = f"⚠️ {err}"
    mine = shown_design(definition, saved)
    if mine is not None and lab.is_teacher(teacher_token()):
        label = "Unpublish" if mine.published else "📢 Publish"
        if right.button(label, help="Show this design to everyone in the class."):
            try:
                task_store().publish(mine.id, teacher_token(), not mine.published)
                st.session_state["custom.saved"] = f"{'Unpublished' if mine.published else 'Published'} {mine.name!r}."
            except lab.PretextLabError as err:
                st.session_state["custom.saved"] = f"⚠️ {err}"
    if message := st.session_state.pop("custom.saved", None):
        st.caption(message)
    st.download_button("⬇️ Design (.json)", definition.to_json(), "pretext-task.json", "application/json")
    st.caption("🔗 The page's address carries this design: copy it to share the task.")


def custom_task_options() -> dict[str, tuple[str, str]]:
    """Saved designs this person may train: option key -> (label, the design's canonical JSON)."""
    try:
        saved = task_store().visible(me(), teacher_token())
    except lab.PretextLabError:
        return {}
    return {f"{lab.CUSTOM}:{t.id}": (f"✏️ {saved_label(t)}", t.definition.to_json()) for t in saved}
