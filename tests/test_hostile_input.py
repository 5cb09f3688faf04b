"""Hostile and broken input that the other test files leave out: each gives a clear message naming the
problem, and what is usable goes on.

Most cases live next to the code they test (tests/test_data_decode.py, tests/test_data_files.py,
tests/test_cli.py, tests/test_train.py, tests/test_experiment.py); docs/reliability.md maps every case to
its test. This file adds thousands of tiny files in one zip, very large but valid images, bombs in
other formats, images smaller than the jigsaw grid through the real task path, header-targeted fuzzing,
and absurd values through the command line.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sslcore.cli import main
from sslcore.data import MAX_PIXELS, load_dataset, load_uploads, load_zip
from sslcore.data.decode import decode_image, image_to_tensor
from sslcore.data.files import MAX_FILES, summarize_errors
from sslcore.errors import ConfigError, ImageDecodeError
from sslcore.runs import RunStore
from sslcore.tasks import get_task, list_tasks

ROOT = Path(__file__).resolve().parents[1]


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def make_zip(entries) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buf.getvalue()


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- archives with thousands of tiny files -------------------------------------------------------------

TINY_PNG = encode(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG")


def test_thousands_of_tiny_images_in_one_zip_load_within_the_cap():
    count = 3000
    assert count < MAX_FILES
    data = make_zip((f"{'ab'[i % 2]}/{i:05d}.png", TINY_PNG) for i in range(count))
    started = time.monotonic()
    ds, errors = load_zip(data, "tiny.zip", size=32)
    assert time.monotonic() - started < 60  # about half a second on a laptop
    assert errors == [] and len(ds) == count and ds.class_names == ["a", "b"]
    assert ds.images.shape == (count, 3, 32, 32) and (ds.images[:, 0] == 255).all()


def test_thousands_of_bad_files_give_one_short_message():
    data = make_zip((f"{i:05d}.png", b"not a picture") for i in range(3000))
    with pytest.raises(ImageDecodeError) as info:
        load_zip(data, "junk.zip")
    message = str(info.value)
    assert message.startswith("junk.zip: no usable images in this archive: junk.zip/00000.png: not an image")
    assert message.endswith("(and 2997 more)") and len(message) < 600 and "\n" not in message


def test_thousands_of_bad_files_among_good_ones_can_be_shown_briefly():
    entries = [("good.png", TINY_PNG)] + [(f"bad{i:04d}.png", b"") for i in range(2500)]
    ds, errors = load_zip(make_zip(entries), "mix.zip")
    assert len(ds) == 1 and len(errors) == 2500
    shown = summarize_errors(errors, limit=10)
    assert len(shown) == 10 and shown[0] == "mix.zip/bad0000.png: empty file"
    assert shown[-1].startswith("… and 2,491 more files were skipped: mix.zip/bad0009.png, mix.zip/bad0010.png")
    assert shown[-1].endswith("mix.zip/bad0028.png and 2,471 others")
    assert summarize_errors(errors[:3]) == [str(e) for e in errors[:3]]


# --- very large images ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_very_large_but_valid_image_is_accepted_and_shrunk(fmt):
    side = 7000  # 49 megapixels: just under the 50 megapixel cap, and a small file (one colour)
    assert side * side <= MAX_PIXELS
    data = encode(Image.new("RGB", (side, side), (10, 200, 30)), fmt)
    started = time.monotonic()
    ds, errors = load_uploads([(f"big.{fmt.lower()}", data)], size=32)
    assert time.monotonic() - started < 30
    assert errors == [] and ds.images.shape == (1, 3, 32, 32)
    r, g, b = ds.images[0, :, 16, 16].tolist()
    assert abs(r - 10) <= 3 and abs(g - 200) <= 3 and abs(b - 30) <= 3


@pytest.mark.parametrize("mode", ["I;16", "RGBA", "P"])
def test_a_huge_image_costs_memory_near_its_pixel_count(tmp_path, mode):
    """A 49-megapixel image of ~100 KB must not take gigabytes to shrink (a 16-bit one took 1.6 GB)."""
    path = tmp_path / "big.png"
    extra = {"transparency": 0} if mode == "P" else {}
    Image.new(mode, (7000, 7000)).save(path, **extra)
    script = (
        "import resource, sys\n"
        "from sslcore.data import load_uploads\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "ds, errors = load_uploads([('big.png', data)], size=32)\n"
        "assert not errors and ds.images.shape == (1, 3, 32, 32)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) < 600, f"{mode}: {out.stdout.strip()} MB above the baseline"


def test_shrinking_before_conversion_keeps_colours():
    """The early reduce of big uploads keeps transparency (over white), palettes and 16-bit scaling right."""
    palette = Image.new("P", (400, 400), 0)
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette.paste(1, (200, 0, 400, 400))
    deep = Image.fromarray(np.full((400, 400), 32768, dtype=np.uint16))
    key = Image.new("RGB", (400, 400), (1, 2, 3))
    key.paste((0, 0, 255), (200, 0, 400, 400))
    ds, errors = load_uploads(
        [
            ("p.png", encode(palette, "PNG", transparency=0)),
            ("deep.png", encode(deep, "PNG")),
            ("key.png", encode(key, "PNG", transparency=(1, 2, 3))),
        ],
        size=32,
    )
    assert errors == []
    assert ds.images[0, :, 16, 4].tolist() == [255, 255, 255] and ds.images[0, :, 16, 28].tolist() == [0, 255, 0]
    assert ds.images[1, :, 16, 16].tolist() == [128, 128, 128]
    assert ds.images[2, :, 16, 4].tolist() == [255, 255, 255] and ds.images[2, :, 16, 28].tolist() == [0, 0, 255]


def _gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("P", (1, 1)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen size
    return bytes(data)


def _bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("RGB", (1, 1)), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def _tiff_claiming(width: int, height: int) -> bytes:
    img = Image.new("L", (1, 1))
    data = bytearray(encode(img, "TIFF"))
    # rewrite the ImageWidth (256) and ImageLength (257) tags of the first IFD
    ifd = struct.unpack("<I", data[4:8])[0]
    for k in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * k
        tag, kind = struct.unpack("<HH", data[entry : entry + 4])
        value = {256: width, 257: height}.get(tag)
        if value is not None:
            data[entry + 8 : entry + 12] = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
    return bytes(data)


@pytest.mark.parametrize(
    "name,data",
    [
        ("bomb.gif", _gif_claiming(65535, 65535)),
        ("bomb.bmp", _bmp_claiming(60_000, 60_000)),
        ("bomb.tif", _tiff_claiming(60_000, 60_000)),
        ("wide.bmp", _bmp_claiming(1_000_000, 60)),  # 60 MP in one long strip
    ],
)
def test_decompression_bombs_in_other_formats(name, data):
    assert len(data) < 1000
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data, name)
    assert (
        info.value.filename == name and "megapixel" in info.value.reason and "decompression bomb" in info.value.reason
    )


# --- tiny images through the real task path --------------------------------------------------------------


@pytest.mark.parametrize("side", [1, 2, 5])
def test_image_smaller_than_the_jigsaw_grid_is_resized_then_cut(side):
    """An upload smaller than the grid is scaled to the chosen size first, so the tiles are real pixels."""
    img = Image.new("RGB", (side, side), (0, 0, 255))
    img.putpixel((0, 0), (255, 0, 0))
    ds, errors = load_uploads([("tiny.png", encode(img, "PNG")), ("dot.png", TINY_PNG)], size=32)
    assert errors == [] and ds.images.shape == (2, 3, 32, 32)
    task = get_task("jigsaw", {"grid": 3, "permutations": 10})
    batch = task.prepare(ds.images, gen())
    assert batch.inputs.shape[:2] == (2, 9) and batch.targets.shape == (2,)
    assert task.explain(batch)[0].label  # the preview has a label in words


def test_jigsaw_on_images_too_small_for_the_grid_is_a_clear_error():
    tiny = image_to_tensor(decode_image(TINY_PNG, "dot.png"), 16)[None]
    with pytest.raises(ConfigError, match=r"16px images are too small for a 3×3 grid"):
        get_task("jigsaw", {"grid": 3, "gap": 4}).prepare(tiny, gen())
    raw = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)  # not resized at all
    with pytest.raises(ConfigError, match="too small"):
        get_task("jigsaw").prepare(raw, gen())


@pytest.mark.parametrize("task", [cls.name for cls in list_tasks("image")])
def test_a_one_pixel_upload_works_for_every_image_task(task):
    ds, _ = load_uploads([("dot.png", TINY_PNG), ("dot2.png", TINY_PNG)], size=32)
    batch = get_task(task).prepare(ds.images, gen())
    assert len(batch) >= 2 and torch.isfinite(batch.inputs.float()).all()


# --- a training set that is all hostile --------------------------------------------------------------------


def test_training_on_a_zip_with_nothing_usable_is_a_clear_error(tmp_path):
    path = tmp_path / "evil.zip"
    link = zipfile.ZipInfo("a/link.png")
    link.external_attr = 0o120777 << 16
    path.write_bytes(
        make_zip([("../../etc/x.png", TINY_PNG), ("/abs.png", TINY_PNG), (link, b"/etc/passwd"), ("b/n.zip", b"PK")])
    )
    with pytest.raises(ConfigError) as info:
        load_dataset(str(path))
    message = str(info.value)
    assert message.startswith(f"no images loaded from {path.name}: no usable images in this archive")
    assert "zip slip" in message and "absolute path" in message and "symbolic link" in message


# --- fuzzing the headers ------------------------------------------------------------------------------------

SAMPLES = {
    "png": encode(Image.new("RGB", (8, 8), (1, 2, 3)), "PNG"),
    "png-palette": encode(Image.new("P", (8, 8)), "PNG", transparency=0),
    "png-16bit": encode(Image.new("I;16", (8, 8)), "PNG"),
    "jpeg": encode(Image.new("RGB", (8, 8)), "JPEG"),
    "gif": encode(Image.new("P", (8, 8)), "GIF"),
    "bmp": encode(Image.new("RGB", (8, 8)), "BMP"),
    "tiff": encode(Image.new("RGB", (8, 8)), "TIFF"),
    "webp": encode(Image.new("RGB", (8, 8)), "WEBP"),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(SAMPLES)),
    edits=st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), min_size=1, max_size=6),
    draft=st.sampled_from([None, 3]),  # 3: the shrink-before-conversion path of uploads
)
def test_lying_headers_decode_or_raise_our_error(kind, edits, draft):
    """Bytes flipped in the first 64 bytes, where sizes, bit depths, colour types and offsets live:
    (the damaged-images fuzz in test_data_decode.py mostly hits pixel data of larger files)."""
    data = bytearray(SAMPLES[kind])
    for where, value in edits:
        data[where % len(data)] = value
    try:
        img = decode_image(bytes(data), "fuzz", max_pixels=1_000_000, draft_size=draft)
    except ImageDecodeError as err:
        assert err.filename == "fuzz" and err.reason
        return
    assert img.mode == "RGB" and img.size[0] * img.size[1] <= 1_000_000


# --- absurd values through the command line ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--task", "rotation", "--budget", "-5"], "budget must be more than 0"),
        (["train", "--task", "rotation", "--budget", "0"], "budget must be more than 0"),
        (["train", "--task", "rotation", "--budget", "nan"], "budget must be more than 0"),
        (["train", "--task", "rotation", "--budget", "1e300"], "at most 86400 seconds"),
        (["train", "--task", "rotation", "--epochs", "-1"], "epochs must be more than 0"),
        (["train", "--task", "rotation", "--batch-size", "0"], "batch size must be between 2 and 4096"),
        (["train", "--task", "rotation", "--batch-size", "1000000000"], "batch size must be between 2 and 4096"),
        (["train", "--task", "rotation", "--n", "-3"], "dataset size n must be between"),
        (["train", "--task", "rotation", "--size", "100000"], "image size must be between 16 and 256"),
        (["train", "--task", "rotation", "--lr", "-1"], "learning rate must be in"),
        (["train", "--task", "rotation", "--lr", "inf"], "learning rate must be in"),
        (["train", "--task", "rotation", "--device", "tpu"], "device must be one of"),
        (["train", "--task", "rotation", "--backbone", "nope"], "unknown backbone 'nope'"),
        (["train", "--task", "rotate"], "unknown task 'rotate'"),
        (["train", "--task", "rotation", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
        (["train", "--task", "rotation", "--dataset", "/etc/passwd"], "unknown dataset '/etc/passwd'"),
        (["train", "--task", "jigsaw", "--param", "grid=abc"], "parameter grid='abc'"),
        (["train", "--task", "jigsaw", "--param", "grid=9"], "must be one of"),
        (["train", "--task", "jigsaw", "--param", "permutations=1000000000"], "above its maximum"),
        (["train", "--task", "jigsaw", "--param", "nope=1"], "unknown parameter(s) nope"),
        (["train", "--task", "jigsaw", "--param", "=3"], "key=value"),
        (["train", "--task", "masked_image", "--param", "mask_ratio=nan"], "expected a finite number"),
        (["compare", "--tasks", ",,,"], "unknown task(s) (none given)"),
        (["compare", "--tasks", "rotation,bogus", "--budget", "-1"], "bogus"),
        (["worker", "--concurrency", "0"], "--concurrency must be at least 1"),
        (["worker", "--device", "tpu"], "device must be one of"),
        (["runs", "show", "../../etc"], "no run '../../etc'"),
        (["runs", "wait", "0123456789ab"], "no run '0123456789ab'"),
        (["runs", "delete", "0123456789ab"], "no run '0123456789ab'"),
        (["runs", "cancel"], "runs cancel needs a run id"),
    ],
)
def test_absurd_command_line_values_are_one_line_errors(tmp_path, capsys, args, message):
    if args[0] in ("runs", "worker", "submit"):
        args = [*args, "--data-dir", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


@pytest.mark.parametrize("value", ["-5", "nan", "1e9", "0"])
def test_submit_refuses_absurd_values_and_queues_nothing(tmp_path, capsys, value):
    assert main(["submit", "--task", "rotation", "--budget", value, "--no-worker", "--data-dir", str(tmp_path)]) == 2
    assert "budget must be" in capsys.readouterr().err
    assert RunStore(tmp_path).list() == []


@pytest.mark.parametrize(
    "args",
    [["train", "--task", "rotation", "--budget", "abc"], ["train", "--task", "rotation", "--batch-size", "1.5"]],
)
def test_values_of_the_wrong_type_are_usage_errors(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid" in err and "Traceback" not in err and err.strip().splitlines()[-1].startswith("python -m sslcore")


@pytest.mark.parametrize("seed", ["-1", str(2**70)])
def test_an_out_of_range_seed_is_a_one_line_error(capsys, seed):
    assert main(["train", "--task", "rotation", "--n", "20", "--budget", "0.1", "--seed", seed]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: seed must be a whole number from 0 to") and err.count("\n") == 1, err
