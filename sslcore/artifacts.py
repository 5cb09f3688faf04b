"""A run's files on disk: config, weights (safetensors, never pickle), metrics, results, embedding.

One folder per run. Everything is plain JSON, JSON lines, safetensors or a NumPy ``.npz`` loaded with
``allow_pickle=False``, so opening a run can never execute code from it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from sslcore.errors import PretextLabError
from sslcore.models import make_backbone

CONFIG, WEIGHTS, HEAD, METRICS, RESULTS, EMBEDDING = (
    "config.json",
    "weights.safetensors",
    "head.safetensors",
    "metrics.jsonl",
    "results.json",
    "embedding.npz",
)


class ArtifactError(PretextLabError):
    """A run folder whose files are missing or damaged."""


def _atomic_write(path: Path, write) -> None:
    """Write to a temporary file, then rename: a crash mid-write never leaves a half file behind."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_json(path: Path, data) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, default=float)))


def save_weights(path: Path, module: torch.nn.Module) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    _atomic_write(path, lambda tmp: save_file(state, str(tmp)))


def save_run(
    run_dir: Path, config: dict, results: dict, history: list[dict], backbone, head=None, embedding: dict | None = None
) -> None:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / CONFIG, config)
    save_weights(run_dir / WEIGHTS, backbone)
    if head is not None:
        save_weights(run_dir / HEAD, head)
    _atomic_write(run_dir / METRICS, lambda tmp: tmp.write_text("".join(json.dumps(e) + "\n" for e in history)))
    if embedding is not None:
        arrays = {k: np.asarray(v) for k, v in embedding.items()}

        def write_npz(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **arrays)

        _atomic_write(run_dir / EMBEDDING, write_npz)
    write_json(run_dir / RESULTS, results)  # last: its presence means the run's files are complete


def _need(path: Path) -> Path:
    if not path.is_file():
        raise ArtifactError(f"{path.name} is missing from run folder {path.parent}: the run's files were removed")
    return path


def _load_json(path: Path) -> dict:
    try:
        return json.loads(_need(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path} is damaged ({err})") from None


def load_results(run_dir: Path) -> dict:
    return _load_json(Path(run_dir) / RESULTS)


def load_config(run_dir: Path) -> dict:
    return _load_json(Path(run_dir) / CONFIG)


def load_backbone(run_dir: Path, backbone_name: str | None = None):
    """Rebuild the backbone and load its weights from safetensors (no pickle involved)."""
    run_dir = Path(run_dir)
    name = backbone_name or load_config(run_dir).get("backbone", "small_cnn")
    backbone = make_backbone(name)
    try:
        state = load_file(str(_need(run_dir / WEIGHTS)))
        backbone.load_state_dict(state)
    except ArtifactError:
        raise
    except Exception as err:  # safetensors raises its own error types for damaged files
        raise ArtifactError(f"{run_dir / WEIGHTS} could not be loaded: {err}") from None
    return backbone


def load_embedding(run_dir: Path) -> dict[str, np.ndarray]:
    path = _need(Path(run_dir) / EMBEDDING)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError) as err:
        raise ArtifactError(f"{path} is damaged ({err})") from None


def load_metrics(run_dir: Path) -> list[dict]:
    path = _need(Path(run_dir) / METRICS)
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line after a crash: keep what is readable
    return events
