"""The bundled corpus, the tokenizer, and uploaded text: what is accepted, and the message for what is not."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sslcore.data import dataset_modality, load_dataset
from sslcore.data.text import (
    MAX_TEXT_BYTES,
    build_text_dataset,
    corpus_paragraphs,
    load_text_uploads,
    parse_text_file,
    split_sentences,
)
from sslcore.data.tokenizer import CLS, MASK, NUM_SPECIAL, PAD, SEP, SPECIALS, UNK, Tokenizer
from sslcore.errors import TextDecodeError


@pytest.fixture(scope="module")
def corpus():
    return load_dataset("corpus")


def test_corpus_is_big_enough_labelled_and_keeps_paragraphs(corpus):
    paragraphs = corpus_paragraphs()
    assert len(corpus) >= 2000
    assert len(corpus.class_names) >= 5
    counts = torch.bincount(corpus.labels)
    assert counts.min() >= 300  # balanced topics: every class has enough for a probe
    assert all(len(p.sentences) >= 2 for p in paragraphs)
    # row i's second segment is the sentence after it in the same paragraph
    first = paragraphs[0].sentences
    assert corpus.names[:2] == first[:2]
    assert torch.equal(corpus.tokens[0, 1], corpus.tokens[1, 0])
    last = len(first) - 1
    assert (corpus.tokens[last, 1] == PAD).all()  # the paragraph's last sentence has no successor


def test_first_n_sentences_cover_every_topic():
    small = load_dataset("corpus", n=60)
    assert len(small) == 60
    assert len(set(small.labels.tolist())) == len(small.class_names)


def test_corpus_rows_are_cls_tokens_sep_pad(corpus):
    rows = corpus.tokens[:, 0]
    assert (rows[:, 0] == CLS).all()
    lengths = (rows != PAD).sum(1)
    assert (rows[torch.arange(len(rows)), lengths - 1] == SEP).all()
    assert (rows[:, 1:] != CLS).all()
    assert corpus.tokenizer.vocab[:NUM_SPECIAL] == list(SPECIALS)
    unk_rate = (rows == UNK).float().sum() / (rows >= NUM_SPECIAL).sum()
    assert unk_rate == 0  # every character of the training text is in the vocabulary


def test_tokenizer_keeps_frequent_words_whole_and_splits_rare_ones():
    tok = Tokenizer.train(["the gardener is planting", "the planting season", "gardens need planting"] * 3)
    assert tok.tokenize("planting") == ["planting"]
    pieces = tok.tokenize("replanting")  # never seen: a known stem/pieces, no [UNK]
    assert len(pieces) > 1 and "[UNK]" not in pieces and all(p.startswith("##") for p in pieces[1:])
    assert tok.decode(tok.encode("the replanting season")) == "the replanting season"


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_tokenizer_takes_any_unicode(text):
    tok = Tokenizer.train(["a small vocabulary of words", "for a fuzz test"])
    ids = tok.encode(text)
    assert all(0 <= i < len(tok) for i in ids)
    row = tok.encode_rows([text], 16)
    assert row.shape == (1, 16) and row[0, 0] == CLS and SEP in row[0].tolist()
    assert MASK not in ids and PAD not in ids and CLS not in ids  # specials never come from text


def test_sentence_splitting():
    text = "It rained hard. Then it\nsnowed all day! Did it stop? Yes."
    # line breaks inside a paragraph are spaces; fragments under three words ("Yes.") carry no topic
    assert split_sentences(text) == ["It rained hard.", "Then it snowed all day!", "Did it stop?"]


def test_txt_paragraphs_and_csv_labels():
    txt = b"First one here. Second one follows.\n\nA new paragraph starts. It goes on here."
    paragraphs = parse_text_file(txt, "notes.txt")
    assert [len(p.sentences) for p in paragraphs] == [2, 2]
    csv = b"id,Text,Label\n1,Dogs bark at night. They wake us up.,pets\n2,Stocks fell again today.,money\n"
    rows = parse_text_file(csv, "data.csv")
    assert [(len(p.sentences), p.label) for p in rows] == [(2, "pets"), (1, "money")]
    data = build_text_dataset("upload", rows)
    assert data.class_names == ["money", "pets"] and data.labels.tolist() == [1, 1, 0]


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"", "empty.txt", "is empty"),
        (b"   \n\n  ", "blank.txt", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "image.txt", "binary"),
        ("Café au lait, crème brûlée et gâteau.".encode("latin-1"), "latin1.txt", "not UTF-8"),
        (b"plain words here", "notes.docx", "not a text file"),
        (b"name,value\nx,1\n", "table.csv", "needs a 'text' column"),
        (b"Hi. Ok.", "short.txt", "no sentences"),
        (bytes(range(1, 32)) * 50, "control.txt", "binary"),
    ],
)
def test_bad_text_is_a_clear_error_naming_the_file(data, name, message):
    with pytest.raises(TextDecodeError, match=message) as err:
        parse_text_file(data, name)
    assert str(err.value).startswith(name)


def test_latin1_error_says_where_and_what_to_do():
    with pytest.raises(TextDecodeError, match=r"byte 0xe9 at position 3.*save it as UTF-8"):
        parse_text_file("Caf\u00e9 is a word in this sentence.".encode("latin-1"), "x.txt")


def test_megabytes_of_text_over_the_cap_are_refused_fast():
    big = b"A sentence of several words. " * (MAX_TEXT_BYTES // 29 + 10)
    with pytest.raises(TextDecodeError, match="limit for text is 10 MB"):
        parse_text_file(big, "huge.txt")


def test_megabytes_under_the_cap_load_with_a_note():
    text = "\n\n".join(f"Paragraph {i} has a first sentence. It has a second sentence too." for i in range(15_000))
    data, errors = load_text_uploads([("big.txt", text.encode())])
    assert not errors and len(data) == 20_000 and data.notes  # capped, and the person is told


def test_one_bad_upload_does_not_sink_the_others():
    good = b"Rivers flow to the sea. The sea is salty water."
    data, errors = load_text_uploads([("bad.txt", b"\xff\xfe\x00\x00junk"), ("good.txt", good)])
    assert len(data) == 2 and len(errors) == 1 and errors[0].filename == "bad.txt"


def test_utf8_bom_and_crlf_are_fine():
    data = "\ufeffOne line of words.\r\nTwo lines of words.\r\n\r\nThird line of words.".encode()
    assert [len(p.sentences) for p in parse_text_file(data, "win.txt")] == [2, 1]


def test_modality_from_name():
    assert dataset_modality("corpus") == "text"
    assert dataset_modality("/tmp/x.CSV") == "text"
    assert dataset_modality("shapes") == "image" and dataset_modality("/tmp/x.zip") == "image"


def test_the_corpus_gets_the_same_token_ids_in_every_process():
    # the app, the worker and a Ray node each build the tokenizer: string hashing differs per process, ids must not
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import hashlib\n"
        "from sslcore.data import load_dataset\n"
        "data = load_dataset('corpus')\n"
        "print(hashlib.md5(data.tokens.numpy().tobytes()).hexdigest(), len(data.tokenizer))\n"
    )
    root = Path(__file__).resolve().parents[1]
    outs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        outs.add(done.stdout.strip())
    assert len(outs) == 1, outs
