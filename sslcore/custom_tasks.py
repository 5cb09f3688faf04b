"""Saved custom tasks: one JSON file per design in ``<data dir>/custom_tasks/``, with its owner.

A person sees their own designs and those the teacher published. Files are named by a random id (12 hex
digits), never by anything a person typed, and only a well-formed id ever becomes a path. A design is
checked by ``parse_definition`` before it is written and again when it is read, so a damaged or
hand-edited file is skipped with a note rather than breaking a page.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from sslcore import artifacts
from sslcore.errors import ConfigError, NotAllowed, PretextLabError
from sslcore.ids import is_id, new_id
from sslcore.limits import MAX_DESIGN_FILE_BYTES
from sslcore.paths import data_dir as default_data_dir
from sslcore.paths import storage_error
from sslcore.runs.store import check_owner, display_owner, is_teacher
from sslcore.tasks.custom import Definition, parse_definition

MAX_PER_OWNER = 50
MAX_FILE_BYTES = MAX_DESIGN_FILE_BYTES


def read_design(data: bytes, filename: str) -> Definition:
    """A design from an uploaded ``.json``: at most MAX_FILE_BYTES, checked by ``parse_definition``; every
    refusal is a ConfigError that names the file."""
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{filename}: larger than the {MAX_FILE_BYTES // 1000} kB limit for a task design")
    try:
        return parse_definition(data.decode("utf-8", errors="replace"))
    except PretextLabError as err:
        raise ConfigError(str(err) if str(err).startswith(filename) else f"{filename}: {err}") from None


@dataclass(frozen=True)
class SavedTask:
    id: str
    owner: str | None
    published: bool
    created: float
    definition: Definition

    @property
    def name(self) -> str:
        return self.definition.name

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "owner": self.owner,
            "published": self.published,
            "created": self.created,
            "definition": self.definition.to_dict(),
        }


class CustomTaskStore:
    """Save, list, publish and delete custom task designs in the data directory."""

    def __init__(self, data_dir=None):
        self.folder = default_data_dir(data_dir) / "custom_tasks"

    def _path(self, task_id: str) -> Path:
        if not is_id(task_id):
            raise ConfigError(f"no custom task {str(task_id)[:40]!r} (ids are 12 hex digits)")
        return self.folder / f"{task_id}.json"

    def _write(self, task: SavedTask) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            artifacts.write_json(self._path(task.id), task.to_dict())
        except OSError as err:
            raise storage_error(err, self.folder) from None

    def _read(self, path: Path) -> SavedTask:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path.name} is too large for a custom task")
        data = json.loads(path.read_text(encoding="utf-8"))
        return SavedTask(
            id=path.stem,
            owner=check_owner(data.get("owner")),
            published=bool(data.get("published")),
            created=float(data.get("created", 0)),
            definition=parse_definition(data["definition"]),
        )

    def all(self) -> list[SavedTask]:
        """Every readable design, newest first (unreadable files are skipped)."""
        if not self.folder.is_dir():
            return []
        tasks = []
        for path in self.folder.glob("*.json"):
            if not is_id(path.stem):
                continue
            try:
                tasks.append(self._read(path))
            except (OSError, ValueError, KeyError, TypeError, PretextLabError):
                continue  # a damaged or hand-edited file: not offered, never a crash
        return sorted(tasks, key=lambda t: -t.created)

    def visible(self, owner: str | None, token: str | None = None) -> list[SavedTask]:
        """What ``owner`` may pick: their own designs and the published ones; the teacher (``token``) sees every
        design, so a student's can be published."""
        if is_teacher(token):
            return self.all()
        return [t for t in self.all() if t.published or (owner is not None and t.owner == owner)]

    def get(self, task_id: str) -> SavedTask:
        path = self._path(task_id)
        if not path.is_file():
            raise ConfigError(f"no custom task {task_id!r}")
        try:
            return self._read(path)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"custom task {task_id} cannot be read: {err}") from None

    def find(self, name_or_id: str, owner: str | None = None, everyone: bool = False) -> SavedTask:
        """A design by id, or by name among those ``owner`` sees (the owner's own first; ``everyone``: the
        command line, which reads the data directory anyway, sees all)."""
        if is_id(name_or_id):
            return self.get(name_or_id)
        matches = [
            t
            for t in (self.all() if everyone else self.visible(owner))
            if t.name.lower() == str(name_or_id).strip().lower()
        ]
        matches.sort(key=lambda t: t.owner != owner)
        if not matches:
            raise ConfigError(f"no custom task named {name_or_id!r}; see python -m sslcore tasks")
        return matches[0]

    def save(self, definition: Definition | dict | str, owner: str | None) -> SavedTask:
        """Store a design for ``owner``. Saving a name the owner already used replaces that design."""
        definition = definition if isinstance(definition, Definition) else parse_definition(definition)
        owner = check_owner(owner)
        mine = [t for t in self.all() if t.owner == owner]
        same = next((t for t in mine if t.name.lower() == definition.name.lower()), None)
        if same is None and len(mine) >= MAX_PER_OWNER:
            raise ConfigError(f"{display_owner(owner)} already has {MAX_PER_OWNER} custom tasks: delete one first")
        task = SavedTask(
            id=same.id if same else new_id(),
            owner=owner,
            published=same.published if same else False,
            created=time.time(),
            definition=definition,
        )
        self._write(task)
        return task

    def publish(self, task_id: str, token: str | None, published: bool = True) -> SavedTask:
        """Show a design to everyone (or hide it again). Only the teacher may."""
        if not is_teacher(token):
            raise NotAllowed("only the teacher can publish a custom task to the class")
        task = self.get(task_id)
        task = SavedTask(task.id, task.owner, published, task.created, task.definition)
        self._write(task)
        return task

    def delete(self, task_id: str, by: str | None, token: str | None = None) -> None:
        task = self.get(task_id)
        if not (task.owner is None or task.owner == by or is_teacher(token)):
            raise NotAllowed(
                f"custom task {task.name!r} belongs to {display_owner(task.owner)}: only they or the teacher can delete it"
            )
        self._path(task_id).unlink(missing_ok=True)
