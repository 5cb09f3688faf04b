"""Bundled datasets (digits, photos), CIFAR-10's offline behaviour, and the by-name registry."""

import contextlib
import io
import pickle
import socket
import threading
import time
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

import sslcore.data.cifar as cifar
from sslcore.data import DATASETS, ImageDataset, list_datasets, load_dataset
from sslcore.data.builtin import load_digits, load_photos
from sslcore.errors import ConfigError, DatasetUnavailable


def png(colour=(255, 0, 0)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (10, 10), colour).save(buf, "PNG")
    return buf.getvalue()


# --- digits and photos ------------------------------------------------------------------------------------


def test_digits():
    ds = load_digits()
    assert ds.images.shape == (1797, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.class_names == [str(d) for d in range(10)] and ds.labelled
    assert torch.bincount(ds.labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert torch.equal(ds.images[:, 0], ds.images[:, 2])  # grey
    ink = ds.images[:, 0].float() / 255
    assert (
        ink.mean() < 0.4 and (ink < 0.1).float().mean() > 0.35 and ink.amax((1, 2)).min() > 0.75
    )  # white digit on black


def test_digits_at_native_size_keep_values():
    from sklearn.datasets import load_digits as sk_digits

    ds = load_digits(size=8)
    expected = np.rint(sk_digits().images[0] * 255 / 16)
    assert ds.images[0, 0].numpy().tolist() == expected.tolist()


def test_photos():
    ds = load_photos()
    assert ds.images.shape == (8, 3, 64, 64) and ds.class_names == ["china", "flower"]
    assert ds.labels.tolist() == [0, 1] * 4 and ds.names[:3] == ["china centre", "flower centre", "china crop 1"]
    assert torch.equal(ds.images, load_photos().images)  # deterministic
    assert torch.equal(load_photos(size=16, n=3).images, load_photos(size=16, n=5).images[:3])
    assert len({ds.images[i].float().mean().item() for i in range(8)}) == 8  # all different crops


# --- registry --------------------------------------------------------------------------------------------


def test_list_datasets():
    listed = list_datasets()
    assert [name for name, _ in listed] == list(DATASETS) == ["shapes", "digits", "photos", "cifar10", "corpus"]
    assert [name for name, _ in list_datasets("text")] == ["corpus"]
    assert all(isinstance(text, str) and text for _, text in listed)


def test_load_by_name():
    shapes = load_dataset("shapes", n=20, size=16, seed=4)
    assert isinstance(shapes, ImageDataset) and shapes.images.shape == (20, 3, 16, 16)
    assert not torch.equal(shapes.images, load_dataset("shapes", n=20, size=16, seed=5).images)
    assert len(load_dataset("shapes")) == 2000
    digits = load_dataset("digits", n=50, size=16)
    assert digits.images.shape == (50, 3, 16, 16) and digits.labelled
    assert load_dataset("photos", n=3, size=24).images.shape == (3, 3, 24, 24)


def test_unknown_name_and_bad_arguments():
    with pytest.raises(ConfigError) as info:
        load_dataset("imagenet")
    assert all(name in str(info.value) for name in DATASETS)
    with pytest.raises(ConfigError):
        load_dataset("shapes", n=0)
    with pytest.raises(ConfigError):
        load_dataset("digits", size=0)


def test_load_paths(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / "set" / cls).mkdir(parents=True)
        (tmp_path / "set" / cls / "1.png").write_bytes(png())
        (tmp_path / "set" / cls / "2.png").write_bytes(png())
    (tmp_path / "set" / "a" / "bad.png").write_bytes(b"bad")
    folder = load_dataset(str(tmp_path / "set"), size=8)
    assert folder.class_names == ["a", "b"] and len(folder) == 4
    assert len(load_dataset(str(tmp_path / "set"), n=3)) == 3

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("x/1.png", png())
        archive.writestr("y/1.png", png())
    (tmp_path / "set.zip").write_bytes(buf.getvalue())
    zipped = load_dataset(str(tmp_path / "set.zip"), size=8)
    assert zipped.name == "set" and zipped.class_names == ["x", "y"]

    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no images"):
        load_dataset(str(tmp_path / "empty"))


# --- CIFAR-10 ----------------------------------------------------------------------------------------------


def _has_internet() -> bool:
    result = []

    def probe():
        with contextlib.suppress(OSError):
            result.append(socket.getaddrinfo("www.cs.toronto.edu", 443))

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(3)
    return bool(result)


def test_cifar10_fails_fast_offline(tmp_path):
    if _has_internet():
        pytest.skip("this machine can reach the internet; the test would download 170 MB")
    start = time.monotonic()
    with pytest.raises(DatasetUnavailable) as info:
        cifar.load_cifar10(data_dir=tmp_path)
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert "download failed" in message and "cifar-10-python.tar.gz" in message and "cifar-10-batches-py" in message
    assert str((tmp_path / "cifar10").resolve()) in message
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_cifar10_interrupted_download_leaves_nothing(tmp_path, monkeypatch):
    class Dropped(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise TimeoutError("read timed out")
            return super().read(10)

    monkeypatch.setattr(cifar, "_open_with_deadline", lambda url: Dropped(b"x" * 100))
    with pytest.raises(DatasetUnavailable, match="read timed out"):
        cifar.load_cifar10(data_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(cifar, "_open_with_deadline", lambda url: io.BytesIO(b"short"))
    with pytest.raises(DatasetUnavailable, match="checksum mismatch"):
        cifar.load_cifar10(data_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cifar10_corrupt_archive_is_reported_not_downloaded_over(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar, "_open_with_deadline", lambda url: pytest.fail("must not download"))
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-python.tar.gz").write_bytes(b"half a file")
    with pytest.raises(DatasetUnavailable, match="incomplete or corrupt"):
        cifar.load_cifar10(data_dir=tmp_path)
    assert sorted(p.name for p in (tmp_path / "cifar10").iterdir()) == ["cifar-10-python.tar.gz"]


def _fake_cifar(root, per_batch=3):
    """CIFAR-10's on-disk layout with tiny batches; image j of a batch has channel c filled with 10*c + j."""
    folder = root / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = np.stack([np.repeat(np.array([10 * c + j for c in range(3)], dtype=np.uint8), 1024) for j in range(3)])
        (folder / name).write_bytes(pickle.dumps({"data": data[:per_batch], "labels": [0, 1, 2][:per_batch]}))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))


def test_cifar10_from_files_on_disk(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    _fake_cifar(tmp_path)
    monkeypatch.setattr(tv_cifar.CIFAR10, "_check_integrity", lambda self: True)  # fake files, fake checksums
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)
    monkeypatch.setattr(cifar, "_open_with_deadline", lambda url: pytest.fail("must not download"))
    ds = cifar.load_cifar10(data_dir=tmp_path)
    assert ds.images.shape == (15, 3, 32, 32) and ds.class_names[0] == "airplane"
    assert ds.labels.tolist() == [0, 1, 2] * 5
    assert ds.images[1, 2].unique().tolist() == [21] and ds.images[2, 0].unique().tolist() == [2]
    assert len(cifar.load_cifar10(train=False, n=2, data_dir=tmp_path)) == 2
    resized = load_dataset("cifar10", n=4, size=16, data_dir=tmp_path)
    assert resized.images.shape == (4, 3, 16, 16) and resized.images[1, 2].unique().tolist() == [21]
