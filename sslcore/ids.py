"""Run, group and custom-task ids: 12 lowercase hex digits, made and checked here only.

An id becomes a folder or file name (``<data dir>/runs/<id>/``, ``<data dir>/custom_tasks/<id>.json``), so
only a string that is exactly an id, nothing before or after it, may be taken for one. Stdlib only.
"""

from __future__ import annotations

import re
import uuid

ID_PATTERN = re.compile(r"[0-9a-f]{12}")


def new_id() -> str:
    """A fresh id (random: two stores never hand out the same one in practice)."""
    return uuid.uuid4().hex[:12]


def is_id(value: object) -> bool:
    """Whether ``value`` is exactly an id (a trailing newline or a path is not)."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None
