"""Datasets from a person's own images: uploaded files, a zip, or a folder on disk.

One bad file never sinks the good ones: each loader returns ``(dataset, errors)`` where ``errors`` names
every file that was skipped and why. Layout of a zip or folder:

- class sub-folders (``cats/1.png``, ``dogs/2.jpg``) give labels, one class per first-level folder (deeper
  files count for the folder they sit in); ``class_names`` are the folder names, sorted;
- a flat layout (or a single folder) is unlabelled;
- files at the top level *next to* class folders are left out, each with an error saying so, because
  a partly labelled set would silently skew the probes;
- one wrapping folder around everything (``photos/cats/1.png``, as zipping a folder often produces) is
  looked through.

Zips are read entirely in memory and never extracted, with caps against zip bombs and path tricks.
"""

import io
import os
import stat
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

import torch

from sslcore.data.dataset import UNLABELLED, ImageDataset
from sslcore.data.decode import MAX_UPLOAD_BYTES, decode_image, image_to_tensor
from sslcore.errors import ImageDecodeError

# A dataset here lives in memory as uint8 tensors and trains on a laptop CPU: thousands of images is the
# useful range. 5,000 files and 200 MB (uncompressed) admit any sensible set and bound the work a hostile
# archive can cause. Real image files barely compress (PNG/JPEG already are), so an entry that inflates
# over 100× and to more than 1 MB is a zip bomb, not a photo.
from sslcore.limits import MAX_FILES, MAX_TOTAL_BYTES  # defined once, for the pages too

MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_MIN_BYTES = 1024 * 1024
MAX_ENTRIES = 4 * MAX_FILES  # raw zip entries, folders and __MACOSX/ companions included

_ARCHIVE_SUFFIXES = (".zip", ".jar", ".7z", ".rar", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".zst")
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"7z\xbc\xaf\x27\x1c", b"Rar!", b"\x1f\x8b", b"BZh", b"\xfd7zXZ")
_S_IFLNK = 0o120000


def load_uploads(
    files: Iterable[tuple[str, bytes]], size: int = 32, name: str = "uploads"
) -> tuple[ImageDataset | None, list[ImageDecodeError]]:
    """Decode uploaded ``(filename, bytes)`` pairs into an unlabelled dataset; ``None`` if none decode."""
    tensors, names, errors = [], [], []
    for filename, data in files:
        try:
            tensors.append(_to_tensor(data, filename, size))
            names.append(filename)
        except ImageDecodeError as err:
            errors.append(err)
    if not tensors:
        return None, errors
    labels = torch.full((len(tensors),), UNLABELLED, dtype=torch.int64)
    return ImageDataset(name, torch.stack(tensors), labels, [], names), errors


def decode_uploads(
    files: Iterable[tuple[str, bytes]], size: int = 32
) -> tuple[torch.Tensor | None, list[str], list[ImageDecodeError]]:
    """Images from what a person dropped on a page: single files and zips of them, mixed.

    Returns (uint8 images or None when nothing decoded, their names, an error per file that did not): a
    zip's images come in archive order, then the single files. Size caps are the decoder's (per image) and
    ``load_zip``'s (per archive).
    """
    singles, images, names, errors = [], [], [], []
    for filename, data in files:
        if filename.lower().endswith(".zip"):
            try:
                dataset, errs = load_zip(data, filename, size=size)
            except ValueError as err:
                errors.append(err)
                continue
            images.append(dataset.images)
            names += dataset.names
            errors += errs
        else:
            singles.append((filename, data))
    if singles:
        dataset, errs = load_uploads(singles, size=size)
        errors += errs
        if dataset is not None:
            images.append(dataset.images)
            names += dataset.names
    return (torch.cat(images) if images else None), names, errors


def load_zip(data: bytes, name: str, size: int = 32) -> tuple[ImageDataset, list[ImageDecodeError]]:
    """Load a zip of images (flat, or one sub-folder per class) without extracting it.

    Raises ``ImageDecodeError(name, …)`` when the archive as a whole is unusable: not a zip, over a cap,
    or no usable image in it. Otherwise returns the dataset and the per-file errors.
    """
    if len(data) > MAX_TOTAL_BYTES:
        raise ImageDecodeError(name, f"archive is {_mb(len(data))}, over the {_mb(MAX_TOTAL_BYTES)} limit")
    # zipfile parses the whole central directory up front; count its records first (a cheap upper bound)
    # so an archive of millions of empty entries is refused before it costs gigabytes of ZipInfo objects.
    if data.count(b"PK\x01\x02") > MAX_ENTRIES:
        raise ImageDecodeError(name, f"has more than {MAX_ENTRIES:,} entries; split it or pick a subset")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except Exception as err:  # BadZipFile, or a damaged central directory tripping zipfile itself
        raise ImageDecodeError(name, f"not a valid zip file ({err})") from None
    with archive:
        errors: list[ImageDecodeError] = []
        candidates = []
        for info in infos:
            path = info.filename.replace("\\", "/")  # some Windows tools write backslashes
            problem = _zip_entry_problem(info, path)
            if problem == "skip":
                continue
            if problem:
                errors.append(ImageDecodeError(f"{name}/{info.filename}", problem))
            else:
                candidates.append((PurePosixPath(path).as_posix(), info))  # "./a//b.png" -> "a/b.png"
        _check_caps(name, len(candidates), sum(info.file_size for _, info in candidates))
        entries = [(path, info.filename, lambda info=info: _bounded_read(archive, info)) for path, info in candidates]
        dataset = _build(_archive_name(name), entries, size, errors, prefix=f"{name}/")
    if dataset is None:
        raise ImageDecodeError(name, _nothing_usable(errors, "archive"))
    return dataset, errors


def load_folder(path: str | os.PathLike, size: int = 32) -> tuple[ImageDataset, list[ImageDecodeError]]:
    """Load a folder of images (flat, or one sub-folder per class); same layout rules and caps as a zip.

    Hidden files and folders are skipped, symlinked folders are not followed.
    """
    root = Path(path)
    if not root.is_dir():
        raise ImageDecodeError(str(path), "not a folder")
    errors: list[ImageDecodeError] = []
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in filenames:
            if filename.startswith("."):
                continue
            full = Path(dirpath, filename)
            rel = full.relative_to(root).as_posix()
            try:
                info = full.stat()
            except OSError as err:
                errors.append(ImageDecodeError(rel, f"cannot read file ({err.strerror})"))
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if info.st_size > MAX_UPLOAD_BYTES:
                errors.append(
                    ImageDecodeError(rel, f"file is {_mb(info.st_size)}, over the {_mb(MAX_UPLOAD_BYTES)} limit")
                )
                continue
            found.append((rel, full, info.st_size))
            if len(found) > MAX_FILES:
                break
        if len(found) > MAX_FILES:
            break
    _check_caps(str(path), len(found), sum(n for *_, n in found))
    entries = [(rel, rel, lambda full=full: full.read_bytes()) for rel, full, _ in found]
    dataset = _build(root.resolve().name or "folder", entries, size, errors)
    if dataset is None:
        raise ImageDecodeError(str(path), _nothing_usable(errors, "folder"))
    return dataset, errors


# --- shared helpers -----------------------------------------------------------------------------------


def _to_tensor(data: bytes, filename: str, size: int) -> torch.Tensor:
    # JPEGs may decode at reduced scale: at least 2× the target keeps the antialiased resize sharp
    return image_to_tensor(decode_image(data, filename, draft_size=2 * size), size)


def _zip_entry_problem(info: zipfile.ZipInfo, path: str) -> str | None:
    """Why this entry must not be read ("skip" to pass over it silently), or None if it may be."""
    parts = PurePosixPath(path).parts
    if info.is_dir() or path.endswith("/"):
        return "skip"  # folders are implied by the file paths
    if any(p == "__MACOSX" or (p.startswith(".") and p != "..") for p in parts):
        return "skip"  # macOS resource forks, .DS_Store and other hidden files
    if path.startswith("/") or (len(path) > 1 and path[0].isalpha() and path[1] == ":"):  # "/x", "C:/x"
        return "absolute path, skipped"
    if ".." in parts:
        return "path leads outside the archive (zip slip), skipped"
    if stat.S_IFMT(info.external_attr >> 16) == _S_IFLNK:
        return "symbolic link, skipped"
    if info.flag_bits & 0x1:
        return "encrypted, skipped"
    if path.lower().endswith(_ARCHIVE_SUFFIXES):
        return "an archive inside the archive, not opened"
    if info.file_size > MAX_UPLOAD_BYTES:
        return f"file is {_mb(info.file_size)}, over the {_mb(MAX_UPLOAD_BYTES)} limit"
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_CHECK_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
        return f"compresses {ratio:.0f}:1, which no real image does (zip bomb?), skipped"
    return None


def _bounded_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read one entry, never more than its declared size (+1 byte to catch a header that lies)."""
    with archive.open(info) as stream:
        data = stream.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise ValueError(f"entry holds {'more' if len(data) > info.file_size else 'less'} data than its header says")
    return data


def _check_caps(name: str, count: int, total: int) -> None:
    if count > MAX_FILES:
        raise ImageDecodeError(name, f"has more than {MAX_FILES:,} files; split it or pick a subset")
    if total > MAX_TOTAL_BYTES:
        raise ImageDecodeError(name, f"holds {_mb(total)} of files, over the {_mb(MAX_TOTAL_BYTES)} limit")


def _layout(paths: list[str]) -> tuple[list[str | None] | None, list[str]]:
    """Class of each path (None = top-level file next to class folders), or None for unlabelled.

    Returns (classes or None, sorted class names).
    """
    split = [p.split("/") for p in paths]
    while split and all(len(s) >= 2 for s in split) and len({s[0] for s in split}) == 1:
        split = [s[1:] for s in split]  # look through a folder that wraps everything
    folders = sorted({s[0] for s in split if len(s) >= 2})
    if len(folders) < 2:
        return None, []  # flat (a single class folder is no labelling either): unlabelled
    return [s[0] if len(s) >= 2 else None for s in split], folders


def _build(
    name: str,
    entries: list[tuple[str, str, Callable[[], bytes]]],
    size: int,
    errors: list[ImageDecodeError],
    prefix: str = "",
) -> ImageDataset | None:
    """Decode ``(path, display name, read())`` entries in path order and label them by layout.

    ``prefix`` (the zip's name) marks entries of an archive in names and messages."""
    entries = sorted(entries, key=lambda e: e[0])
    classes, class_names = _layout([path for path, _, _ in entries])
    index = {c: i for i, c in enumerate(class_names)}
    tensors, labels, names = [], [], []
    for k, (_, shown, read) in enumerate(entries):
        shown = prefix + shown
        if classes is not None and classes[k] is None:
            errors.append(ImageDecodeError(shown, "sits next to the class folders; left out (move it into one)"))
            continue
        try:
            data = read()
            if data.startswith(_ARCHIVE_MAGIC):
                raise ImageDecodeError(shown, "an archive inside the archive, not opened" if prefix else "an archive")
            tensors.append(_to_tensor(data, shown, size))
        except ImageDecodeError as err:
            errors.append(err)
            continue
        except Exception as err:  # a corrupt zip entry (bad CRC, bad deflate stream) or an unreadable file
            errors.append(ImageDecodeError(shown, f"cannot read file ({type(err).__name__}: {err})"))
            continue
        labels.append(UNLABELLED if classes is None else index[classes[k]])
        names.append(shown)
    if not tensors:
        return None
    return ImageDataset(name, torch.stack(tensors), torch.tensor(labels, dtype=torch.int64), class_names, names)


MAX_SKIPPED_NAMES = 20  # the files a summary names one by one before it only counts


def summarize_errors(errors: list[ImageDecodeError], limit: int = 10) -> list[str]:
    """At most ``limit`` messages for a page, the last one counting the rest: a zip of thousands of bad
    files must not become thousands of messages."""
    if len(errors) <= limit:
        return [str(e) for e in errors]
    rest = errors[limit - 1 :]
    names = [getattr(e, "filename", None) or str(e) for e in rest[:MAX_SKIPPED_NAMES]]
    more = f" and {len(rest) - len(names):,} others" if len(rest) > len(names) else ""
    return [
        *(str(e) for e in errors[: limit - 1]),
        f"… and {len(rest):,} more files were skipped: {', '.join(names)}{more}",
    ]


def _nothing_usable(errors: list[ImageDecodeError], what: str) -> str:
    if not errors:
        return f"no image files in this {what}"
    shown = "; ".join(str(e) for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"no usable images in this {what}: {shown}{more}"


def _archive_name(name: str) -> str:
    stem = PurePosixPath(name.replace("\\", "/")).name
    return stem[:-4] if stem.lower().endswith(".zip") else stem or "zip"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"
