"""Training files people upload: kept under a content hash (no user path reaches the disk), with the
name they were uploaded as beside them, so pages and downloads show "flowers.zip", never a server path."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from sslcore.artifacts import write_bytes
from sslcore.data import DATASETS
from sslcore.errors import ConfigError, PretextLabError
from sslcore.limits import MAX_TEXT_BYTES, MAX_TOTAL_BYTES, MB
from sslcore.paths import data_dir, storage_error

NAME_SUFFIX = ".name"
MAX_NAME_CHARS = 80
UPLOAD_LIMITS = {".zip": MAX_TOTAL_BYTES, ".csv": MAX_TEXT_BYTES}  # what Train accepts, and how large


def clean_name(name: str) -> str:
    """The uploaded file's own name, without any folder part or control characters, at most 80 characters."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = "".join(c for c in base if c.isprintable()).strip()
    return base[:MAX_NAME_CHARS] or "upload"


def save_upload(data: bytes, name: str, suffix: str, root=None) -> str:
    """Check an uploaded training file and keep it as ``<data dir>/uploads/<sha256>.<suffix>``; returns its path.

    ``suffix`` is what the run will read: ``.zip`` (a zip of class folders) or ``.csv`` (text and labels).
    Refused here, in words that name the file, rather than later in the worker: a file over its limit, and a
    CSV that is binary, not UTF-8 or without a text column. The name it was uploaded as is kept beside it
    (cleaned); no user path reaches the disk, and the same content is written once (atomically: a cut-short
    write never leaves a partial file under the hash).
    """
    if suffix not in UPLOAD_LIMITS:
        raise ConfigError(f"a training upload is a {' or a '.join(UPLOAD_LIMITS)} file, not {suffix!r}")
    limit = UPLOAD_LIMITS[suffix]
    if len(data) > limit:
        raise PretextLabError(f"{name}: larger than the {limit // MB} MB limit")
    if suffix == ".csv":
        from sslcore.data.text import parse_text_file

        parse_text_file(data, name)  # refuse binary / non-UTF-8 / column-less files now, not in the worker
    folder = data_dir(root) / "uploads"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise storage_error(err, folder) from None
    path = folder / f"{hashlib.sha256(data).hexdigest()[:24]}{suffix}"
    if not path.exists():
        write_bytes(path, data)
    write_bytes(path.with_name(path.name + NAME_SUFFIX), clean_name(name).encode())
    return str(path)


def dataset_label(dataset: str | None) -> str:
    """How a run's dataset is shown: a built-in name as is, an upload by the name it was uploaded as."""
    if not dataset or dataset in DATASETS:
        return dataset or "?"
    return _uploaded_name(str(dataset))


@lru_cache(maxsize=512)
def _uploaded_name(dataset: str) -> str:
    path = Path(dataset)
    try:
        name = path.with_name(path.name + NAME_SUFFIX).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        name = ""
    return f"“{clean_name(name)}” (uploaded)" if name else f"your file {clean_name(path.name)}"
