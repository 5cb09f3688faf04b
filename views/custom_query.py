"""Explore's URL for a custom task, as pure functions (no streamlit), next to ``views/query.py``.

A custom task travels in the link as ``task=custom&design=<URL-safe base64 of its JSON>``, so a student
can share a design without saving it. The link is untrusted: a design that does not decode or does not
pass ``parse_definition`` is dropped with a note in words, and the page opens the default design.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sslcore import lab
from views.query import query_from_settings, settings_from_query

if TYPE_CHECKING:
    from sslcore.lab import Definition

DESIGN = "design"
DESIGN_KEY = "custom.design"  # session-state key: the design (canonical JSON) the builder opens with


def settings_from_custom_query(query: Mapping[str, str]) -> tuple[dict, list[str]]:
    """Like ``settings_from_query``, and for ``task=custom`` also the design, checked."""
    if query.get("task") != lab.CUSTOM:
        return settings_from_query(query)
    rest = {k: v for k, v in query.items() if k not in ("task", DESIGN)}
    settings, notes = settings_from_query(rest)
    settings["task"] = lab.CUSTOM
    raw = query.get(DESIGN)
    if raw is None:
        return settings, notes
    if len(str(raw)) > 2 * lab.MAX_DEFINITION_CHARS:
        return settings, [*notes, "ignored the custom task in the link: it is too long"]
    try:
        settings[DESIGN_KEY] = lab.decode_definition(str(raw)).to_json()
    except lab.ConfigError as err:
        notes.append(f"ignored the custom task in the link: {err}")
    return settings, notes


def custom_query(definition: Definition, source: str, size: int, count: int, seed: int) -> dict[str, str]:
    """The URL for a custom task's preview: the data settings plus the encoded design."""
    query = query_from_settings("rotation", source, size, count, seed, {})
    return {**query, "task": lab.CUSTOM, DESIGN: lab.encode_definition(definition)}
