"""A run's files on disk: config, weights (safetensors, never pickle), metrics, results, embedding.

One folder per run. Everything is plain JSON, JSON lines, safetensors or a NumPy ``.npz`` loaded with
``allow_pickle=False``, so opening a run can never execute code from it.

The weights file says which network it fits: its safetensors metadata holds the backbone's ``spec()``
(registry name and every constructor argument, the dataset's vocabulary size included), so
``load_backbone`` rebuilds exactly that network before loading the weights. Folders written before the
spec was stored take the labelled legacy path (``legacy_spec``).

Every file is written to a temporary name, flushed to disk and renamed into place, and ``results.json``
comes last: a folder without it is an unfinished run (a crash or a kill mid-write leaves no half file
under a real name). A write that fails (disk full, read-only) is a ``StorageError`` that says so; a file
that is missing or damaged when loaded is an ``ArtifactError`` naming it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save

from sslcore.errors import ArtifactError, PretextLabError
from sslcore.models import DEFAULT_BACKBONE, backbone_modality, rebuild_backbone
from sslcore.paths import storage_error

CONFIG, WEIGHTS, HEAD, METRICS, RESULTS, EMBEDDING = (
    "config.json",
    "weights.safetensors",
    "head.safetensors",
    "metrics.jsonl",
    "results.json",
    "embedding.npz",
)


SPEC_KEY = "pretext_lab.backbone"  # the weights file's metadata entry holding the backbone's spec (JSON)


EMBEDDING_KEYS = ("coords", "labels", "indices", "neighbours", "features")


def _write_file(path: Path, data: bytes) -> None:
    """The one place artifact bytes reach the disk: write, then flush to the device."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file, then rename: a crash mid-write never leaves a half file under the
    real name. The temporary name is unique, so two processes writing the same file (two workers caching
    the same baseline) cannot move each other's half-written data into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        _write_file(tmp, data)
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise storage_error(err, path) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically write ``data`` (for callers outside a run folder, e.g. a saved upload); a full or
    read-only disk is a StorageError with a message, and a crash never leaves a half file under ``path``."""
    _atomic_write(path, data)


def write_json(path: Path, data) -> None:
    _atomic_write(path, json.dumps(data, indent=2, default=float).encode())


def save_weights(path: Path, module: torch.nn.Module, spec: dict | None = None) -> None:
    """The module's state dict as safetensors; ``spec`` (a backbone's) goes into the file's metadata."""
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    metadata = {SPEC_KEY: json.dumps(spec, sort_keys=True)} if spec is not None else None
    _atomic_write(path, save(state, metadata))  # serialised in memory: a full disk is then a plain OSError


def save_run(
    run_dir: Path, config: dict, results: dict, history: list[dict], backbone, head=None, embedding: dict | None = None
) -> None:
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise storage_error(err, run_dir) from None
    write_json(run_dir / CONFIG, config)
    save_weights(run_dir / WEIGHTS, backbone, backbone.spec())
    if head is not None:
        save_weights(run_dir / HEAD, head)
    _atomic_write(run_dir / METRICS, "".join(json.dumps(e) + "\n" for e in history).encode())
    if embedding is not None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in embedding.items()})
        _atomic_write(run_dir / EMBEDDING, buf.getvalue())
    write_json(run_dir / RESULTS, results)  # last: its presence means the run's files are complete
    _sync_dir(run_dir)


RUN_FILES = (CONFIG, WEIGHTS, HEAD, METRICS, EMBEDDING, RESULTS)


def write_run_files(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write a run folder made elsewhere (a Ray node) from its files' bytes, results.json last. Only the
    known file names are accepted: nothing that came over the network chooses a path."""
    unknown = set(files) - set(RUN_FILES)
    if unknown or RESULTS not in files:
        raise ArtifactError(
            f"a run's files came back incomplete or unexpected ({', '.join(sorted(unknown)) or 'no results'})"
        )
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise storage_error(err, run_dir) from None
    for name in sorted(files, key=lambda n: n == RESULTS):
        _atomic_write(run_dir / name, files[name])
    _sync_dir(run_dir)


def read_run_files(run_dir: Path) -> dict[str, bytes]:
    """The files of a finished run folder, to ship them to another machine."""
    return {name: (Path(run_dir) / name).read_bytes() for name in RUN_FILES if (Path(run_dir) / name).is_file()}


def _sync_dir(folder: Path) -> None:
    """Make the renames durable (a power cut right after a run must not lose results.json)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _need(path: Path) -> Path:
    if not path.is_file():
        raise ArtifactError(f"{path.name} is missing from run folder {path.parent}: the run's files were removed")
    return path


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(_need(path).read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path} is damaged ({err})") from None
    except OSError as err:
        raise ArtifactError(f"{path} could not be read ({err.strerror or err})") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path} is damaged (expected a JSON object, found {type(data).__name__})")
    return data


def load_results(run_dir: Path) -> dict:
    return _load_json(Path(run_dir) / RESULTS)


def load_config(run_dir: Path) -> dict:
    return _load_json(Path(run_dir) / CONFIG)


def load_backbone(run_dir: Path, backbone_name: str | None = None):
    """Rebuild the backbone from the spec stored with its weights, then load them (no pickle involved).

    ``backbone_name`` is the backbone the caller expects (default: the one config.json names); weights of
    another backbone are an ArtifactError, not a silent mismatch.
    """
    run_dir = Path(run_dir)
    name = backbone_name or load_config(run_dir).get("backbone", DEFAULT_BACKBONE["image"])
    path = _need(run_dir / WEIGHTS)
    state, spec = read_weights(path)
    if spec is None:
        spec = legacy_spec(name, state)
    elif spec.get("name") != name:
        raise ArtifactError(f"{path} holds the weights of a {spec.get('name')!r} backbone, not of {name!r}")
    try:
        backbone = rebuild_backbone(spec)
    except PretextLabError as err:
        raise ArtifactError(f"{run_dir} names a backbone that cannot be rebuilt: {err}") from None
    try:
        backbone.load_state_dict(state)
    except Exception as err:  # torch, for weights of another network
        raise ArtifactError(f"{path} could not be loaded: {_short(err)}") from None
    return backbone


def read_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """(state dict, the backbone spec stored with it or None) of a safetensors file: tensors only, never pickle."""
    try:
        with safe_open(str(path), framework="pt") as f:
            stored = (f.metadata() or {}).get(SPEC_KEY)
            state = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (a safetensors handle, not a dict)
    except Exception as err:  # safetensors raises its own error types for damaged files
        raise ArtifactError(f"{path} could not be loaded: {_short(err)}") from None
    if stored is None:
        return state, None
    try:
        spec = json.loads(stored)
    except json.JSONDecodeError:
        spec = None
    if not isinstance(spec, dict):
        raise ArtifactError(f"{path} is damaged (its backbone spec is not a JSON object)")
    return state, spec


def legacy_spec(name: str, state: dict[str, torch.Tensor]) -> dict:
    """LEGACY PATH, for run folders written before weights carried their backbone's spec.

    Those runs could only use each backbone's default constructor arguments, except a text backbone's
    vocabulary size and length, which came from the dataset: they are read back from the shapes of the
    embedding tables. New folders never come here; keep this for the folders already on disk.
    """
    args = {}
    if backbone_modality(name) == "text" and {"embed.weight", "position.weight"} <= state.keys():
        args = {"vocab_size": state["embed.weight"].shape[0], "max_len": state["position.weight"].shape[0]}
    return {"name": name, "args": args}


def load_embedding(run_dir: Path) -> dict[str, np.ndarray]:
    """The 2-D map's arrays (coords, labels, indices, neighbours, features), all one row per test image."""
    path = _need(Path(run_dir) / EMBEDDING)
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("a bare array, not an .npz archive")
            arrays = {k: data[k] for k in data.files}
    except Exception as err:  # BadZipFile, zlib.error, ValueError (pickled objects refused), EOFError, OSError...
        raise ArtifactError(f"{path} is damaged ({_short(err) or type(err).__name__})") from None
    missing = [k for k in EMBEDDING_KEYS if k not in arrays]
    if missing:
        raise ArtifactError(f"{path} is damaged (no {', '.join(missing)} array)")
    rows = {len(arrays[k]) if arrays[k].ndim else -1 for k in EMBEDDING_KEYS}
    if len(rows) != 1 or arrays["coords"].ndim != 2 or arrays["coords"].shape[1] != 2:
        raise ArtifactError(f"{path} is damaged (its arrays do not fit together)")
    return arrays


def load_metrics(run_dir: Path) -> list[dict]:
    path = _need(Path(run_dir) / METRICS)
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as err:
        raise ArtifactError(f"{path} could not be read ({err.strerror or err})") from None
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line after a crash: keep what is readable
        if isinstance(event, dict):
            events.append(event)
    return events


def _short(err: BaseException, limit: int = 200) -> str:
    text = " ".join(str(err).split())  # one line, whatever the library put in its message
    return text if len(text) <= limit else text[: limit - 1] + "…"
