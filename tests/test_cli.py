"""The command line: tasks listing, preview PNGs, and one-line errors instead of tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from sslcore.cli import main
from sslcore.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]


def test_tasks_json_lists_every_task_with_params(capsys):
    assert main(["tasks", "--json"]) == 0
    tasks = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert set(tasks) == set(TASKS)
    jigsaw = tasks["jigsaw"]
    assert jigsaw["modality"] == "image" and jigsaw["kind"] == "classification"
    assert {p["name"]: p["default"] for p in jigsaw["params"]}["grid"] == 2
    assert "Noroozi" in jigsaw["teaching"]["paper"]


def test_tasks_table(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in TASKS) and "mask_ratio=0.75" in out


@pytest.mark.parametrize("name", [name for name, cls in TASKS.items() if cls.modality == "image"])
def test_preview_writes_a_valid_png(tmp_path, capsys, name):
    out = tmp_path / f"{name}.png"
    assert main(["preview", name, "--out", str(out), "-n", "2", "--size", "32"]) == 0
    with Image.open(out) as im:
        im.verify()
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width >= 300 and im.height >= 2 * 128
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed


def test_preview_of_own_images_with_params(tmp_path, capsys):
    paths = []
    for i, colour in enumerate([(255, 0, 0), (0, 0, 255)]):
        path = tmp_path / f"img{i}.jpg"
        Image.new("RGB", (50, 40), colour).save(path)
        paths.append(str(path))
    out = tmp_path / "mine.png"
    assert main(["preview", "jigsaw", *paths, "--out", str(out), "--param", "grid=3", "--param", "gap=1"]) == 0
    printed = capsys.readouterr().out
    assert "img0.jpg: permutation" in printed and "img1.jpg: permutation" in printed
    assert out.exists()


def test_same_seed_same_picture(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for out in (a, b):
        assert main(["preview", "simclr", "--out", str(out), "--seed", "5", "-n", "2", "--size", "32"]) == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    "args,message",
    [
        (["preview", "rotate"], "unknown task 'rotate'"),
        (["preview", "jigsaw", "--param", "grid=7"], "must be one of 2, 3"),
        (["preview", "jigsaw", "--param", "grid"], "key=value"),
        (["preview", "rotation", "-n", "0"], "-n must be between"),
        (["preview", "rotation", "--size", "100000"], "--size must be between"),
        (["preview", "jigsaw", "--size", "16", "--param", "grid=3"], "too small"),
        (["preview", "rotation", "--dataset", "imagenet"], "imagenet"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, args, message):
    assert main([*args, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bad_image_file_names_it_without_traceback(tmp_path):
    bad = tmp_path / "holiday.png"
    bad.write_text("not really a png")
    good = tmp_path / "good.png"
    Image.new("RGB", (20, 20)).save(good)
    out = tmp_path / "out.png"
    proc = subprocess.run(
        [sys.executable, "-m", "sslcore", "preview", "rotation", str(good), str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "holiday.png" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert not out.exists()


def test_missing_image_file(tmp_path, capsys):
    assert main(["preview", "rotation", str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "o.png")]) == 2
    assert "nope.jpg: no such file" in capsys.readouterr().err
