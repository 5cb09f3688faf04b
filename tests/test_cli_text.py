"""The command line on text: previews of pasted text and files, one-line errors, a short run on the corpus."""

import json

import pytest

from sslcore.cli import main


def test_preview_pasted_text_shows_the_hidden_words(capsys, tmp_path):
    out = tmp_path / "mlm.html"
    text = "The baker shaped the dough into long loaves. Then the loaves rested under a cloth."
    args = ["preview", "masked_language", "--text", text, "--param", "mask_rate=0.5", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "[MASK]⟨" in printed and "label: predict" in printed
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "flex-direction:column" in page and "[MASK]</span><span" in page


@pytest.mark.parametrize("task", ["replaced_token", "sentence_order", "skip_gram"])
def test_preview_of_the_corpus(capsys, task):
    assert main(["preview", task, "-n", "3", "--seed", "2"]) == 0
    assert capsys.readouterr().out.count("label:") == 3


def test_preview_text_files(tmp_path, capsys):
    notes = tmp_path / "notes.csv"
    notes.write_text("text,label\nThe river floods every spring. Farmers plant after the water drops.,farming\n")
    assert main(["preview", "sentence_order", str(notes), "-n", "1"]) == 0
    assert "[CLS] A [SEP] B [SEP]" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["preview", "masked_language", "--text", ""], "is empty"),
        (["preview", "masked_language", "--text", "Hi."], "no sentences"),
        (["preview", "masked_language", "--text", "Some words are here.", "--out", "x.png"], ".html"),
        (["preview", "rotation", "--text", "Some words are here."], "--text is for text tasks"),
        (["preview", "masked_language", "--dataset", "digits"], "text task"),
        (["train", "--task", "masked_language", "--dataset", "shapes"], "text task"),
        (["train", "--task", "rotation", "--dataset", "corpus"], "image task"),
        (["train", "--task", "skip_gram", "--seq-len", "4"], "sequence length"),
    ],
)
def test_bad_text_arguments_are_one_line_errors(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_latin1_file_is_named(tmp_path, capsys):
    bad = tmp_path / "old.txt"
    bad.write_bytes("Les crêpes sont très bonnes ce matin.".encode("latin-1"))
    assert main(["preview", "masked_language", str(bad)]) == 2
    assert "old.txt: is not UTF-8" in capsys.readouterr().err


def test_train_a_text_task_on_the_corpus(capsys, tmp_path):
    args = ["train", "--task", "skip_gram", "--epochs", "1", "--n", "300", "--json", "--out", str(tmp_path / "run")]
    assert main(args) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["dataset"] == "corpus" and results["config"]["backbone"] == "transformer"
    assert results["class_names"] == ["astronomy", "computing", "cooking", "gardening", "music", "sport"]
    assert 0 <= results["linear_probe"] <= 1 and results["steps"] > 0
    from sslcore.artifacts import load_backbone, load_embedding

    emb = load_embedding(tmp_path / "run")
    assert len(emb["words"]) == len(emb["word_coords"]) == len(emb["word_neighbours"]) > 50
    backbone = load_backbone(tmp_path / "run")  # rebuilt from the spec stored with its weights
    assert backbone.input_embedding().weight.shape[1] == 128 and backbone.max_len == 80
