"""Datasets for Pretext Lab, by name: one call gives an ``ImageDataset`` or a ``TextDataset``.

``load_dataset("shapes")``, ``load_dataset("corpus")`` and friends need no internet; a path to a folder
or a ``.zip`` loads the person's own images, a ``.txt`` or ``.csv`` their text. Heavy imports
(torchvision, scikit-learn) happen only when a dataset needs them.
"""

import logging
import os
from pathlib import Path

from sslcore.data.dataset import UNLABELLED, ImageDataset
from sslcore.data.decode import MAX_PIXELS, MAX_UPLOAD_BYTES, decode_image, image_to_tensor
from sslcore.data.files import MAX_FILES, MAX_TOTAL_BYTES, load_folder, load_uploads, load_zip
from sslcore.data.text import CORPUS_NAME, DEFAULT_SEQ_LEN, TEXT_SUFFIXES, TextDataset, load_corpus, load_text_file
from sslcore.errors import ConfigError, ImageDecodeError
from sslcore.limits import DEFAULT_SHAPES_N
from sslcore.menus import BUILTIN_DATASETS

log = logging.getLogger(__name__)

_DESCRIPTIONS = {name: d.description for name, d in BUILTIN_DATASETS.items()}  # menus.py: the one list
DATASETS = tuple(_DESCRIPTIONS)
TEXT_DATASETS = tuple(name for name, d in BUILTIN_DATASETS.items() if d.modality == "text")


def dataset_modality(name: str) -> str:
    """ "text" for the corpus and .txt/.csv files, "image" for everything else (decided without loading)."""
    return "text" if name in TEXT_DATASETS or Path(name).suffix.lower() in TEXT_SUFFIXES else "image"


def list_datasets(modality: str | None = None) -> list[tuple[str, str]]:
    """(name, one-line description) of every built-in dataset, in menu order, optionally of one modality."""
    return [(n, d) for n, d in _DESCRIPTIONS.items() if modality in (None, dataset_modality(n))]


def load_dataset(
    name: str,
    *,
    n: int | None = None,
    size: int = 32,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    seq_len: int = DEFAULT_SEQ_LEN,
) -> ImageDataset | TextDataset:
    """Load a built-in dataset by name, or a folder / ``.zip`` of images or a ``.txt`` / ``.csv`` by path.

    Images come at ``size``×``size``, text as rows of ``seq_len`` tokens. ``n`` keeps the first n images
    or sentences (shapes: generates n, default 2000); ``seed`` picks the shapes set. Files that fail to
    decode in a folder or zip are skipped and logged; no usable image is a ConfigError.
    """
    if n is not None and n < 1:
        raise ConfigError(f"n must be at least 1, got {n}")
    if size < 1:
        raise ConfigError(f"size must be positive, got {size}")
    if name == CORPUS_NAME:
        return load_corpus(seq_len, n)
    if name == "shapes":
        from sslcore.data.shapes import make_shapes

        return make_shapes(DEFAULT_SHAPES_N if n is None else n, size=size, seed=seed)
    if name == "digits":
        from sslcore.data.builtin import load_digits

        return _first(load_digits(size), n)
    if name == "photos":
        from sslcore.data.builtin import load_photos

        return load_photos(size, n or 8)
    if name == "cifar10":
        from sslcore.data.cifar import load_cifar10

        return _resize(load_cifar10(train=True, n=n, data_dir=data_dir), size)
    path = Path(name).expanduser()
    if path.is_file() and path.suffix.lower() in TEXT_SUFFIXES:
        return load_text_file(path, seq_len, n)
    if path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip"):
        return _first(_load_path(path, size), n)
    raise ConfigError(
        f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}, or give the path to a folder or .zip "
        "of images, or a .txt / .csv file of text"
    )


def _load_path(path: Path, size: int) -> ImageDataset:
    try:
        if path.is_dir():
            dataset, errors = load_folder(path, size)
        else:
            if path.stat().st_size > MAX_TOTAL_BYTES:
                raise ImageDecodeError(str(path), f"archive is over the {MAX_TOTAL_BYTES // 2**20} MB limit")
            dataset, errors = load_zip(path.read_bytes(), path.name, size)
    except ImageDecodeError as err:
        raise ConfigError(f"no images loaded from {err}") from None
    for err in errors:
        log.warning("skipped %s", err)
    return dataset


def _first(dataset: ImageDataset, n: int | None) -> ImageDataset:
    return dataset if n is None or n >= len(dataset) else dataset.subset(range(n))


def _resize(dataset: ImageDataset, size: int) -> ImageDataset:
    """Resize a fixed-size set (CIFAR is 32×32) to the requested size, antialiased when shrinking."""
    if dataset.image_size == size:
        return dataset
    import torch
    import torch.nn.functional as F

    images = F.interpolate(dataset.images.float(), size=(size, size), mode="bilinear", antialias=True)
    images = images.round().clamp(0, 255).to(torch.uint8)
    return ImageDataset(dataset.name, images, dataset.labels, dataset.class_names, dataset.names, dataset.factors)


__all__ = [
    "DATASETS",
    "TEXT_DATASETS",
    "TextDataset",
    "dataset_modality",
    "MAX_FILES",
    "MAX_PIXELS",
    "MAX_TOTAL_BYTES",
    "MAX_UPLOAD_BYTES",
    "UNLABELLED",
    "ImageDataset",
    "decode_image",
    "image_to_tensor",
    "list_datasets",
    "load_dataset",
    "load_folder",
    "load_uploads",
    "load_zip",
]
