"""CIFAR-10 when it can be had: from files already on disk, else a download that fails fast.

The app must work offline, so a missing dataset is never a hang: the download gets a few seconds to
connect, and failure raises ``DatasetUnavailable`` saying exactly which file to put where.
"""

import hashlib
import shutil
import tarfile
import tempfile
import threading
import urllib.request
from pathlib import Path

import torch

from sslcore import paths
from sslcore.data.dataset import ImageDataset
from sslcore.errors import ConfigError, DatasetUnavailable

CONNECT_TIMEOUT_S = 8.0  # to resolve, connect and get response headers; offline machines fail well within it
READ_TIMEOUT_S = 30.0  # per socket read once the download runs
_CHUNK = 1 << 20


def cifar10_dir(data_dir=None) -> Path:
    """Where CIFAR-10 files are looked for (and downloaded to): ``<data dir>/cifar10``."""
    return paths.data_dir(data_dir) / "cifar10"


def load_cifar10(train: bool = True, n: int | None = None, data_dir=None) -> ImageDataset:
    """The CIFAR-10 train (50,000) or test (10,000) split as 32×32 images; the first ``n`` if given."""
    from torchvision.datasets import CIFAR10  # torchvision is slow to import; only pay for it here

    if n is not None and n < 1:
        raise ConfigError(f"cifar10: n must be at least 1, got {n}")
    root = cifar10_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    archive = root / CIFAR10.filename
    how = (
        f"To use CIFAR-10 offline, put {CIFAR10.filename} (from {CIFAR10.url}) or its extracted "
        f"{CIFAR10.base_folder} folder in {root.resolve()}"
    )
    if not (root / CIFAR10.base_folder).is_dir():
        if not archive.is_file():
            try:
                _download(CIFAR10.url, archive, CIFAR10.tgz_md5, how)
            except DatasetUnavailable:
                if not any(root.iterdir()):
                    root.rmdir()  # leave nothing behind, not even the empty folder
                raise
        _extract(archive, root, CIFAR10.tgz_md5, CIFAR10.base_folder, how)
    try:
        dataset = CIFAR10(str(root), train=train, download=False)  # checks every file's MD5 before unpickling
    except RuntimeError as err:
        raise DatasetUnavailable(
            f"CIFAR-10 files in {root / CIFAR10.base_folder} are incomplete or corrupt ({err}). "
            f"Delete that folder. {how}."
        ) from None
    data, targets = dataset.data[:n], dataset.targets[:n]
    images = torch.from_numpy(data).permute(0, 3, 1, 2).contiguous()
    split = "train" if train else "test"
    return ImageDataset(
        "cifar10",
        images,
        torch.tensor(targets, dtype=torch.int64),
        list(dataset.classes),
        [f"cifar10 {split} #{i}" for i in range(len(images))],
    )


def _download(url: str, target: Path, md5: str, how: str) -> None:
    """Fetch ``url`` to ``target`` via a ``.part`` file; on any failure remove it and raise DatasetUnavailable."""
    part = target.with_name(target.name + ".part")
    try:
        response = _open_with_deadline(url)
        digest = hashlib.md5()
        with response, open(part, "wb") as out:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
        if digest.hexdigest() != md5:
            raise OSError("the downloaded file is incomplete (checksum mismatch)")
        part.replace(target)
    except Exception as err:
        part.unlink(missing_ok=True)
        raise DatasetUnavailable(f"CIFAR-10 download failed ({err}). {how}.") from None


def _open_with_deadline(url: str):
    """``urlopen`` with a hard deadline: its own timeout does not cover DNS, which can hang offline."""
    result: dict = {}

    def connect():
        try:
            result["response"] = urllib.request.urlopen(url, timeout=READ_TIMEOUT_S)  # noqa: S310 - fixed https URL
        except BaseException as err:  # noqa: BLE001 - handed to the caller below
            result["error"] = err

    thread = threading.Thread(target=connect, name="cifar10-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S)
    if thread.is_alive():
        raise OSError(f"no connection within {CONNECT_TIMEOUT_S:.0f} s")
    if "error" in result:
        raise OSError(str(result["error"]))
    return result["response"]


def _extract(archive: Path, root: Path, md5: str, folder: str, how: str) -> None:
    """Verify and unpack the archive into a temporary folder, then move the result into place atomically."""
    digest = hashlib.md5()
    with open(archive, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != md5:
        raise DatasetUnavailable(
            f"{archive} is incomplete or corrupt (checksum mismatch). Delete it. {how}, or connect to the internet."
        )
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")  # the checksum already proves this is the official archive
        (tmp / folder).replace(root / folder)
    except Exception as err:
        raise DatasetUnavailable(f"could not unpack {archive} ({err}). {how}.") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
