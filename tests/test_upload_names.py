"""Uploaded training files are shown by the name they were uploaded as, never by a server path."""

import io
import zipfile
from pathlib import Path

from PIL import Image
from signing import sign_in
from streamlit.testing.v1 import AppTest

from sslcore.names import run_labels
from sslcore.report import result_row, results_csv
from sslcore.runs import RunStore
from sslcore.train import TrainConfig
from sslcore.uploads import clean_name, dataset_label, save_upload

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def class_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for label, colour in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
            for i in range(12):
                img = io.BytesIO()
                Image.new("RGB", (32, 32), tuple(min(255, c + 3 * i) for c in colour)).save(img, "PNG")
                zf.writestr(f"{label}/{i}.png", img.getvalue())
    return buf.getvalue()


def test_labels_csv_and_rows_use_the_uploaded_name(tmp_path):
    path = save_upload(class_zip(), "C:\\Users\\ada\\flowers.zip", ".zip", root=tmp_path)
    assert "uploads" in path and path.endswith(".zip")
    assert dataset_label(path) == "“flowers.zip” (uploaded)"
    assert dataset_label("shapes") == "shapes"
    assert clean_name("../../etc/passwd\x00") == "passwd" and clean_name("") == "upload"
    store = RunStore(tmp_path)
    run = store.get(store.submit(TrainConfig(task="rotation", dataset=path), owner="ada"))
    other = store.get(store.submit(TrainConfig(task="rotation", dataset="shapes"), owner="ada"))
    label = run_labels([run, other])[run.id]  # a name shows the dataset where it tells two runs apart
    for text in (label, result_row(run)["dataset"], results_csv([run])):
        assert "flowers.zip" in text and "uploads" not in text and str(tmp_path) not in text


def test_the_train_queue_shows_the_uploaded_name():
    at = AppTest.from_file(APP, default_timeout=90)
    sign_in(at.run(), "ada")
    at.switch_page("views/train.py").run()
    at.checkbox[0].set_value(False)
    at.selectbox(key="dataset_image").set_value("upload")
    at.get("file_uploader")[0].set_value([("my shapes.zip", class_zip(), "application/zip")])
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception, at.exception
    store = RunStore()
    try:
        cards = " ".join(c.value for c in at.caption if "run id" in c.value)  # each card's details line
        assert "“my shapes.zip” (uploaded)" in cards and "uploads/" not in cards
    finally:
        for run in store.list():
            store.cancel(run.id, by="ada")
