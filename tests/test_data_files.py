"""Uploads, zips and folders: good files load, bad ones are named, hostile archives are refused."""

import io
import os
import zipfile

import pytest
import torch
from PIL import Image

import sslcore.data.files as files
from sslcore.data import UNLABELLED, load_folder, load_uploads, load_zip
from sslcore.errors import ImageDecodeError


def png(colour=(255, 0, 0), size=(12, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def make_zip(entries, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """entries: (name or ZipInfo, bytes) pairs."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buf.getvalue()


def reasons(errors) -> dict[str, str]:
    return {err.filename: err.reason for err in errors}


def whole_archive_error(data: bytes, name: str = "set.zip") -> str:
    with pytest.raises(ImageDecodeError) as info:
        load_zip(data, name)
    assert info.value.filename == name
    return info.value.reason


# --- uploads --------------------------------------------------------------------------------------------


def test_uploads_good_and_bad():
    ds, errors = load_uploads([("red.png", png()), ("notes.png", b"hello"), ("blue.png", png((0, 0, 255)))], size=8)
    assert ds.names == ["red.png", "blue.png"] and ds.images.shape == (2, 3, 8, 8)
    assert (ds.labels == UNLABELLED).all() and not ds.labelled and ds.class_names == []
    assert ds.images[0, 0].min() > 240 and ds.images[1, 2].min() > 240
    assert list(reasons(errors)) == ["notes.png"] and "not an image" in errors[0].reason


def test_uploads_nothing_usable():
    assert load_uploads([]) == (None, [])
    ds, errors = load_uploads([("a.png", b""), ("b.svg", b"<svg></svg>")])
    assert ds is None and [e.filename for e in errors] == ["a.png", "b.svg"]


# --- zip: layouts ---------------------------------------------------------------------------------------


def test_zip_class_folders_give_labels():
    data = make_zip(
        [
            ("cats/", b""),
            ("cats/1.png", png()),
            ("cats/2.png", png()),
            ("dogs/1.png", png((0, 255, 0))),
            ("dogs/deeper/3.png", png((0, 255, 0))),
            ("__MACOSX/cats/._1.png", b"\x00\x05\x16\x07junk"),
            ("cats/.DS_Store", b"junk"),
        ]
    )
    ds, errors = load_zip(data, "pets.zip", size=8)
    assert errors == []
    assert ds.name == "pets" and ds.class_names == ["cats", "dogs"] and ds.labelled
    assert ds.labels.tolist() == [0, 0, 1, 1]
    assert ds.names == [
        "pets.zip/cats/1.png",
        "pets.zip/cats/2.png",
        "pets.zip/dogs/1.png",
        "pets.zip/dogs/deeper/3.png",
    ]
    assert ds.images[2, 1].min() > 240  # the green dog


def test_zip_wrapping_folder_and_backslashes():
    ds, errors = load_zip(make_zip([("set/a/1.png", png()), ("set\\b\\1.png", png())]), "set.zip")
    assert errors == [] and ds.class_names == ["a", "b"] and ds.labels.tolist() == [0, 1]


def test_zip_flat_or_single_folder_is_unlabelled():
    for layout in (["1.png", "2.png"], ["only/1.png", "only/2.png"]):
        ds, errors = load_zip(make_zip([(name, png()) for name in layout]), "flat.zip")
        assert errors == [] and len(ds) == 2 and (ds.labels == UNLABELLED).all() and ds.class_names == []


def test_zip_top_level_files_next_to_class_folders_are_left_out():
    data = make_zip([("cover.png", png()), ("a/1.png", png()), ("b/1.png", png())])
    ds, errors = load_zip(data, "set.zip")
    assert len(ds) == 2 and ds.labelled
    assert "left out" in reasons(errors)["set.zip/cover.png"]


def test_zip_mixed_good_and_bad():
    buf = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(buf, "PNG")
    good = buf.getvalue()
    data = make_zip(
        [
            ("a.png", good),
            ("cut.png", good[: len(good) // 2]),
            ("notes.txt", b"not a picture"),
            ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            ("b.png", good),
        ]
    )
    ds, errors = load_zip(data, "mix.zip")
    assert ds.names == ["mix.zip/a.png", "mix.zip/b.png"]
    found = reasons(errors)
    assert set(found) == {"mix.zip/cut.png", "mix.zip/notes.txt", "mix.zip/logo.svg"}
    assert "truncated" in found["mix.zip/cut.png"] and "SVG" in found["mix.zip/logo.svg"]


# --- zip: hostile archives ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../evil.png", "a/../../evil.png", "..\\evil.png"])
def test_zip_slip(name):
    ds, errors = load_zip(make_zip([("ok.png", png()), (name, png())]), "set.zip")
    assert len(ds) == 1 and "zip slip" in reasons(errors)[f"set.zip/{name}"]


@pytest.mark.parametrize("name", ["/etc/evil.png", "C:/evil.png"])
def test_absolute_path(name):
    ds, errors = load_zip(make_zip([("ok.png", png()), (name, png())]), "set.zip")
    assert len(ds) == 1 and "absolute path" in reasons(errors)[f"set.zip/{name}"]


def test_symlink_entry():
    link = zipfile.ZipInfo("link.png")
    link.external_attr = 0o120777 << 16
    ds, errors = load_zip(make_zip([("ok.png", png()), (link, b"/etc/passwd")]), "set.zip")
    assert len(ds) == 1 and "symbolic link" in reasons(errors)["set.zip/link.png"]


def test_zip_bomb_by_ratio_and_by_size():
    ratio_bomb = b"\x00" * (10 * 1024 * 1024)  # under the byte cap, but compresses ~1000:1
    ds, errors = load_zip(make_zip([("ok.png", png()), ("bomb.png", ratio_bomb)]), "set.zip")
    assert len(ds) == 1 and "zip bomb" in reasons(errors)["set.zip/bomb.png"]
    size_bomb = b"\x00" * (files.MAX_UPLOAD_BYTES + 1)
    ds, errors = load_zip(make_zip([("ok.png", png()), ("big.png", size_bomb)]), "set.zip")
    assert len(ds) == 1 and "over the 20.0 MB limit" in reasons(errors)["set.zip/big.png"]


def test_total_uncompressed_cap(monkeypatch):
    monkeypatch.setattr(files, "MAX_TOTAL_BYTES", 5000)
    data = make_zip([(f"{i}.png", b"\x00" * 2000) for i in range(3)])
    assert len(data) < 5000
    assert "over the" in whole_archive_error(data)


def test_header_that_lies_about_size_is_caught():
    """An entry whose data is bigger than its declared size is read only up to the declared size."""
    payload = png()
    data = bytearray(make_zip([("ok.png", payload), ("liar.png", payload)], zipfile.ZIP_STORED))
    central = data.rfind(b"PK\x01\x02")  # the last central directory record: liar.png
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")  # uncompressed size: 10 bytes
    ds, errors = load_zip(bytes(data), "set.zip")
    assert len(ds) == 1 and list(reasons(errors)) == ["set.zip/liar.png"]


def test_encrypted_entry(monkeypatch):
    data = bytearray(make_zip([("ok.png", png()), ("secret.png", png())]))
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1
    ds, errors = load_zip(bytes(data), "set.zip")
    assert len(ds) == 1 and "encrypted" in reasons(errors)["set.zip/secret.png"]


def test_nested_archives_are_not_opened():
    inner = make_zip([("x.png", png())])
    ds, errors = load_zip(make_zip([("ok.png", png()), ("inner.zip", inner), ("sneaky.png", inner)]), "set.zip")
    found = reasons(errors)
    assert len(ds) == 1 and "archive inside the archive" in found["set.zip/inner.zip"]
    assert "archive inside the archive" in found["set.zip/sneaky.png"]


def test_too_many_files():
    data = make_zip([(f"f{i:05d}.png", b"x") for i in range(files.MAX_FILES + 1)], zipfile.ZIP_STORED)
    assert "more than 5,000 files" in whole_archive_error(data)


def test_too_many_raw_entries_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(files, "MAX_ENTRIES", 10)
    data = make_zip([(f"__MACOSX/{i}/", b"") for i in range(11)])
    assert "more than 10 entries" in whole_archive_error(data)


def test_invalid_zip():
    assert whole_archive_error(b"this is not a zip").startswith("not a valid zip file")
    good = make_zip([("a.png", png())])
    assert whole_archive_error(good[: len(good) // 2]).startswith("not a valid zip file")


def test_zip_without_images():
    assert whole_archive_error(make_zip([])) == "no image files in this archive"
    assert whole_archive_error(make_zip([("docs/", b""), (".hidden.png", png())])) == "no image files in this archive"
    reason = whole_archive_error(make_zip([("readme.txt", b"hello"), ("data.csv", b"1,2")]))
    assert reason.startswith("no usable images in this archive") and "readme.txt" in reason


# --- folders --------------------------------------------------------------------------------------------


def test_folder_with_classes(tmp_path):
    for cls, colour in (("b_dogs", (0, 255, 0)), ("a_cats", (255, 0, 0))):
        (tmp_path / cls).mkdir()
        (tmp_path / cls / "1.png").write_bytes(png(colour))
    (tmp_path / "a_cats" / "broken.png").write_bytes(b"nope")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.png").write_bytes(png())
    (tmp_path / "a_cats" / ".thumb.png").write_bytes(png())
    ds, errors = load_folder(tmp_path, size=8)
    assert ds.class_names == ["a_cats", "b_dogs"] and ds.labels.tolist() == [0, 1]
    assert ds.names == ["a_cats/1.png", "b_dogs/1.png"] and ds.name == tmp_path.name
    assert list(reasons(errors)) == ["a_cats/broken.png"]
    assert torch.equal(ds.images[0, 0], torch.full((8, 8), 255, dtype=torch.uint8))


def test_folder_flat_skips_symlinked_dirs_and_big_files(tmp_path, monkeypatch):
    (tmp_path / "1.png").write_bytes(png())
    (tmp_path / "big.png").write_bytes(png(size=(200, 200)))
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "x.png").write_bytes(png())
    os.symlink(outside, tmp_path / "linked", target_is_directory=True)
    monkeypatch.setattr(files, "MAX_UPLOAD_BYTES", 300)
    ds, errors = load_folder(tmp_path)
    assert ds.names == ["1.png"] and not ds.labelled
    assert "limit" in reasons(errors)["big.png"]


def test_folder_errors(tmp_path):
    with pytest.raises(ImageDecodeError, match="not a folder"):
        load_folder(tmp_path / "missing")
    with pytest.raises(ImageDecodeError, match="no image files"):
        load_folder(tmp_path)
