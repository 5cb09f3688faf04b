"""The twelve bugs of issue 12, each pinned by a test that fails on the old behaviour."""

import io
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from sslcore.context import flags, loss_trend
from sslcore.data.decode import decode_image
from sslcore.data.files import summarize_errors
from sslcore.device import available_devices
from sslcore.errors import ConfigError, ImageDecodeError, TrainingError
from sslcore.preview import text_view_html
from sslcore.tasks import TASKS, get_task, make_params, param_specs
from sslcore.tasks.base import TextView, Token
from sslcore.tasks.supervised import Supervised
from views.query import settings_from_query
from views.ui import float_step

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 90


def explore(**query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "views" / "explore.py"), default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


# 1 -------------------------------------------------------------------------------------------------
def test_1_every_paper_default_and_every_value_in_a_knobs_help_is_reachable():
    for cls in [*TASKS.values(), Supervised]:
        for spec in param_specs(cls.Params):
            if spec.type is not float:
                continue
            step, fmt = float_step(spec)
            helped = [float(x) for x in re.findall(r"\d*\.\d+", spec.help)]
            for value in [spec.default, *helped]:
                if spec.min <= value <= spec.max:
                    steps = (value - spec.min) / step
                    assert abs(steps - round(steps)) < 1e-6, (cls.name, spec.name, value, step)
                    assert float(fmt % value) == value, (cls.name, spec.name, fmt)  # shown as itself, not 0.00


def test_1_skip_gram_subsample_shows_0_001_and_simclr_temperature_takes_0_1_and_0_5():
    at = explore(task="skip_gram", source="corpus")
    assert at.sidebar.slider(key="skip_gram.subsample").value == pytest.approx(0.001)
    at = explore(task="simclr")
    for value in (0.1, 0.5):
        at.sidebar.slider(key="simclr.temperature").set_value(value).run()
        assert not at.exception and at.sidebar.slider(key="simclr.temperature").value == pytest.approx(value)


# 2 -------------------------------------------------------------------------------------------------
def tint(task, value: float) -> float:
    """How far from grey the colour target of a flat grey image is (0 = neutral)."""
    grey = torch.full((1, 3, 16, 16), value)
    target = task.target_colours(task.prepare(grey, torch.Generator().manual_seed(0)))
    return float((target.amax(1) - target.amin(1)).max())


@pytest.mark.parametrize("value", [0.5, 0.8, 0.95])  # mid grey, light grey, the near-white of a sky
def test_2_the_default_colour_target_keeps_grey_grey(value):
    assert tint(get_task("colorization"), value) < 0.02
    assert tint(get_task("colorization", {"bins": 10}), value) > 0.05  # the old default tinted it


# 3 -------------------------------------------------------------------------------------------------
def test_3_notes_sit_under_their_token_and_never_run_together():
    view = TextView([Token("cat", "replaced", "was dog"), Token("sat", "replaced", "was stood"), Token("on")], "x")
    markup = text_view_html(view)
    assert "<rt" not in markup and "<ruby" not in markup  # ruby text is drawn above
    columns = re.findall(r'<span style="display:inline-flex;flex-direction:column[^"]*">(.*?)</span></span>', markup)
    assert len(columns) == 2
    for column, (word, note) in zip(columns, [("cat", "was dog"), ("sat", "was stood")]):
        assert column.index(word) < column.index(note)  # the note comes after (under) its token
    assert markup.count("white-space:nowrap") == 2 and "margin:0 3px" in markup


# 4 -------------------------------------------------------------------------------------------------
def shown_images(at) -> list[str]:
    return [img.url for element in at.get("image") for img in element.proto.imgs]


def test_4_new_random_draw_changes_the_default_view():
    at = explore()
    before = shown_images(at)
    assert before
    next(b for b in at.sidebar.button if "New random draw" in b.label).click().run()
    assert not at.exception, at.exception
    after = shown_images(at)
    assert len(after) == len(before) and after != before


# 5 -------------------------------------------------------------------------------------------------
def test_5_the_device_menu_offers_only_what_exists():
    choices = available_devices()
    assert choices[:2] == ["auto", "cpu"]
    assert ("cuda" in choices) == torch.cuda.is_available()
    assert ("mps" in choices) == bool(torch.backends.mps.is_available())
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("views/train.py").run()
    assert next(s for s in at.selectbox if s.label == "Device").options == choices


# 6 -------------------------------------------------------------------------------------------------
def test_6_a_bad_url_value_is_said_in_words_not_pythons():
    settings, notes = settings_from_query({"task": "jigsaw", "grid": "abc", "gap": "x", "seed": "abc"})
    text = " ".join(notes)
    assert "invalid literal" not in text and "could not convert" not in text
    assert "gap='x': expected a whole number" in text and "seed='abc'" in text
    with pytest.raises(ConfigError, match="expected a number, e.g. 0.5"):
        make_params(TASKS["simclr"].Params, {"temperature": "warm"})
    at = explore(task="jigsaw", gap="abc")
    assert all("invalid literal" not in w.value for w in at.warning)
    assert any("expected a whole number" in w.value for w in at.warning)


# 7 -------------------------------------------------------------------------------------------------
def test_7_views_are_counted_from_1_and_each_crop_box_is_named():
    task = get_task("simclr")
    items = task.explain(task.prepare(torch.rand(3, 3, 32, 32), torch.Generator().manual_seed(0)))
    first = items[0]
    assert "views 0" not in first.label and "view 1 and view 2 of image 1" in first.label
    assert [v.caption for v in first.views] == ["view 1 (red crop)", "view 2 (blue crop)"]
    assert "red: view 1" in first.original.caption and "blue: view 2" in first.original.caption
    assert [b.color for b in first.original.boxes] == [(255, 64, 64), (64, 128, 255)]  # red, then blue
    assert "the other 4 views" in first.label


# 8 -------------------------------------------------------------------------------------------------
def test_8_lessons_and_home_cards_match_what_they_show():
    two = get_task("rotation", {"angles": 2}).lesson().predicts
    assert "180°" in two and "90°" not in two
    assert "90°" in get_task("rotation").lesson().predicts
    at = explore(task="rotation", angles="2")
    lesson = " ".join(m.value for m in at.markdown if "Predicts" in m.value)
    assert "0° or by 180°" in lesson and "270" not in lesson
    home = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not home.exception, home.exception
    captions = " ".join(i.caption for element in home.get("image") for i in element.proto.imgs)
    assert "other 0 views" not in captions and "views of the other images in the batch" in captions
    html_blocks = [h.proto.body for h in home.get("html")]
    mlm = next(b for b in html_blocks if "[MASK]" in b or "MASK" in b)
    assert "[MASK]" in mlm


# 9 -------------------------------------------------------------------------------------------------
def test_9_loss_trend_in_words():
    falling = [2.0 - 0.01 * i for i in range(100)]
    assert loss_trend(falling) is None
    assert loss_trend([1.0] * 20 + [30.0] * 10 + [1.2] * 70) == "diverged"
    assert loss_trend([1.0 + 0.005 * i for i in range(100)]) == "rose"
    warning = " ".join(flags({"task": "rotation", "steps": 500, "loss_trend": "diverged"}, {"lr": 10.0}))
    assert "diverged" in warning and "Lower the learning rate (10)" in warning


def test_9_a_learning_rate_of_10_is_flagged(tmp_path):
    from sslcore.experiment import run_experiment
    from sslcore.train import TrainConfig

    config = TrainConfig(task="rotation", n=100, batch_size=16, epochs=4, budget=None, lr=10.0, probe_size=10)
    try:
        results = run_experiment(config, embed="pca", data_dir=tmp_path)
    except TrainingError as err:  # the loss became NaN: that is said in words too
        assert "diverged" in str(err) and "Lower the learning rate" in str(err)
        return
    assert results["loss_trend"] in ("diverged", "rose")
    assert any("Lower the learning rate (10)" in f for f in flags(results, config.to_dict()))


# 10 ------------------------------------------------------------------------------------------------
def start_worker(data: Path, idle: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sslcore", "worker", "--data-dir", str(data), "--idle-exit", str(idle)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_exit(proc: subprocess.Popen, timeout: float) -> int | None:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def wait_registered(data: Path) -> None:
    from sslcore.runs import RunStore

    deadline = time.monotonic() + 60
    while not RunStore(data).live_workers():
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.3)


def test_10_a_worker_whose_data_folder_is_gone_stops(tmp_path):
    data = tmp_path / "data"
    worker = start_worker(data, idle=600)  # a long idle exit: only the missing folder can stop it soon
    wait_registered(data)
    shutil.rmtree(data)
    assert wait_exit(worker, 30) is not None, "the worker kept retrying a store whose folder is gone"


def test_10_idle_time_counts_while_the_store_is_unavailable(tmp_path):
    data = tmp_path / "data"
    worker = start_worker(data, idle=3)
    wait_registered(data)
    for name in os.listdir(data):  # a damaged store in a folder that still exists
        if name.startswith("runs.sqlite"):
            (data / name).unlink()
    (data / "runs.sqlite").write_bytes(b"this is not a database" * 100)
    assert wait_exit(worker, 40) is not None, "an unusable store kept the worker alive past its idle exit"


# 11 ------------------------------------------------------------------------------------------------
def test_11_skipped_files_are_named():
    errors = [ImageDecodeError(f"notes{i}.txt", "not an image") for i in range(12)]
    shown = summarize_errors(errors, limit=10)
    assert shown[-1] == "… and 3 more files were skipped: notes9.txt, notes10.txt, notes11.txt"


def test_11_svg_and_pdf_uploads_are_refused_by_name_on_the_page():
    at = explore()
    at.sidebar.radio[0].set_value("upload").run()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    at.get("file_uploader")[0].set_value(
        [("drawing.svg", svg, "image/svg+xml"), ("page.pdf", b"%PDF-1.4 ...", "application/pdf")]
    ).run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "drawing.svg: unsupported format SVG" in errors and "page.pdf: unsupported format PDF" in errors
    assert not any("Upload a few images" in i.value for i in at.info)


def png_claiming(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_11_a_pixel_bomb_says_how_big_it_is():
    with pytest.raises(ImageDecodeError) as info:
        decode_image(png_claiming(60_000, 60_000), "bomb.png")
    assert "3,600 megapixels" in info.value.reason and "over the 50 megapixel limit" in info.value.reason


# 12 ------------------------------------------------------------------------------------------------
def test_12_a_home_card_opens_its_task_in_explore():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    next(b for b in at.button if b.key == "open-jigsaw").click().run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="task").value == "jigsaw"
    assert any(m.value.startswith("**permutation") for m in at.markdown)


def test_12_a_link_to_an_upload_view_says_it_opens_empty():
    at = explore(task="rotation", source="upload")
    assert any("someone's own images, which are not shared" in i.value for i in at.info)
    assert any("a link to this view opens with no images" in c.value for c in at.caption)
