"""Text datasets: the bundled corpus and uploaded ``.txt`` / ``.csv``, as one token tensor.

Each row is one sentence plus the sentence after it in the same paragraph (all ``[PAD]`` when there is
none), so sentence-order tasks find their pairs by row, like image tasks find their image. Uploaded
bytes are checked before anything else: size, UTF-8, binary content, emptiness, each with a message
that names the file and says what to do.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch

from sslcore.data.dataset import UNLABELLED, Factor
from sslcore.data.tokenizer import PAD, Tokenizer
from sslcore.errors import ConfigError, TextDecodeError
from sslcore.limits import MAX_SENTENCES, MAX_TEXT_BYTES

CORPUS_DIR = Path(__file__).resolve().parents[2] / "assets" / "text"
CORPUS_NAME = "corpus"
TEXT_SUFFIXES = (".txt", ".csv")
MAX_SENTENCE_CHARS = 2_000  # a "sentence" longer than this is cut (a minified file, a table row...)
MIN_WORDS = 3  # fragments shorter than this ("Yes.", "II.") carry no topic
DEFAULT_SEQ_LEN = 40
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+")


@dataclass
class Paragraph:
    sentences: list[str]
    label: str | None = None


@dataclass
class TextDataset:
    """Sentences as token ids: ``tokens`` int64 (N, 2, seq_len) = (sentence, next sentence or [PAD]).

    labels: int64 (N,) topic index or ``UNLABELLED``; names: the sentences themselves, for display.
    """

    name: str
    tokens: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    names: list[str]
    tokenizer: Tokenizer
    notes: list[str] = field(default_factory=list)
    factors: dict[str, Factor] = field(default_factory=dict)  # surface factors per sentence (text_factors)
    modality: ClassVar[str] = "text"

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def inputs(self) -> torch.Tensor:
        return self.tokens

    @property
    def seq_len(self) -> int:
        return self.tokens.shape[-1]

    @property
    def labelled(self) -> bool:
        return bool(len(self) and (self.labels >= 0).all())


# ------------------------------------------------------------------------------------------ parsing
def split_sentences(paragraph: str) -> list[str]:
    """Sentences of a paragraph (line breaks inside it are just spaces); fragments under 3 words dropped."""
    text = " ".join(paragraph.split())
    out = []
    for sentence in _SENTENCE_END.split(text):
        sentence = sentence.strip()[:MAX_SENTENCE_CHARS]
        if len(sentence.split()) >= MIN_WORDS:
            out.append(sentence)
    return out


def parse_txt(text: str) -> list[Paragraph]:
    """Paragraphs are separated by blank lines."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return [Paragraph(s) for block in blocks if (s := split_sentences(block))]


def parse_csv(text: str, filename: str = "upload.csv") -> list[Paragraph]:
    """One paragraph per row, from a ``text`` column and an optional ``label`` column (names any case)."""
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
        if "text" not in header:
            found = ", ".join(repr(h) for h in reader.fieldnames or []) or "none"
            raise TextDecodeError(filename, f"a CSV needs a 'text' column (and optionally 'label'); columns found: {found}")
        paragraphs = []
        for row in reader:
            sentences = split_sentences(row.get(header["text"]) or "")
            label = (row.get(header["label"]) or "").strip() if "label" in header else None
            if sentences:
                paragraphs.append(Paragraph(sentences, label or None))
    except csv.Error as err:
        raise TextDecodeError(filename, f"is not a readable CSV file ({err})") from None
    return paragraphs


def decode_text(data: bytes, filename: str) -> str:
    """Bytes → str, refusing what is not UTF-8 text, with the reason and the fix."""
    if not isinstance(data, bytes | bytearray):
        raise TextDecodeError(filename, "expected the file's bytes")
    if len(data) > MAX_TEXT_BYTES:
        raise TextDecodeError(filename, f"is {len(data) / 2**20:.1f} MB; the limit for text is {MAX_TEXT_BYTES // 2**20} MB")
    if not data.strip():
        raise TextDecodeError(filename, "is empty")
    if b"\x00" in data[:8192]:
        raise TextDecodeError(filename, "looks like a binary file, not text (it contains NUL bytes)")
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise TextDecodeError(
            filename,
            f"is not UTF-8 text (byte 0x{data[err.start]:02x} at position {err.start}); "
            "save it as UTF-8 and upload it again",
        ) from None
    printable = sum(ch.isprintable() or ch.isspace() for ch in text[:20000])
    if printable < 0.95 * min(len(text), 20000):
        raise TextDecodeError(filename, "looks like a binary file, not text (too many control characters)")
    return text


def parse_text_file(data: bytes, filename: str) -> list[Paragraph]:
    """Paragraphs from an uploaded ``.txt`` or ``.csv`` file's bytes; a clear TextDecodeError otherwise."""
    suffix = Path(filename).suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise TextDecodeError(filename, f"is not a text file; upload {' or '.join(TEXT_SUFFIXES)}")
    text = decode_text(data, filename)
    paragraphs = parse_csv(text, filename) if suffix == ".csv" else parse_txt(text)
    if not paragraphs:
        raise TextDecodeError(filename, f"has no sentences of {MIN_WORDS} or more words")
    return paragraphs


# ------------------------------------------------------------------------------------------ datasets
def build_text_dataset(
    name: str, paragraphs: list[Paragraph], seq_len: int = DEFAULT_SEQ_LEN, n: int | None = None
) -> TextDataset:
    """Tokenizer trained on these paragraphs; one row per sentence with its successor; labels from names."""
    if not 8 <= seq_len <= 256:
        raise ConfigError(f"sequence length must be between 8 and 256 tokens, got {seq_len}")
    notes = []
    sentences, successors, label_names, positions = [], [], [], []
    for para in paragraphs:
        for i, sentence in enumerate(para.sentences):
            sentences.append(sentence)
            successors.append(para.sentences[i + 1] if i + 1 < len(para.sentences) else None)
            label_names.append(para.label)
            positions.append(i)
    limit = min(n or MAX_SENTENCES, MAX_SENTENCES)
    if len(sentences) > limit:
        if n is None:
            notes.append(f"only the first {limit:,} of {len(sentences):,} sentences are used")
        sentences, successors, label_names = sentences[:limit], successors[:limit], label_names[:limit]
        positions = positions[:limit]
    if not sentences:
        raise ConfigError(f"{name} has no sentences")
    tokenizer = Tokenizer.train(sentences)
    # a successor is the next sentence in the list (the last row's may have been cut): encode each once
    rows = tokenizer.encode_rows([*sentences, successors[-1] or ""], seq_len)
    first = rows[:-1]
    second = torch.where(torch.tensor([s is not None for s in successors])[:, None], rows[1:], PAD)
    if all(label is not None for label in label_names):
        class_names = sorted(set(label_names))
        lookup = {c: i for i, c in enumerate(class_names)}
        labels = torch.tensor([lookup[c] for c in label_names], dtype=torch.long)
    else:
        if any(label is not None for label in label_names):
            notes.append("some rows have no label, so the whole set is treated as unlabelled")
        class_names, labels = [], torch.full((len(sentences),), UNLABELLED, dtype=torch.long)
    tokens = torch.stack([first, second], dim=1)
    factors = text_factors(sentences, positions)
    return TextDataset(name, tokens, labels, class_names, sentences, tokenizer, notes, factors)


RARE_COUNT = 3  # a word seen at most this often in the whole text counts as rare


def text_factors(sentences: list[str], positions: list[int]) -> dict[str, Factor]:
    """Surface factors of each sentence, to set against its topic in the factor probes.

    length: words in the sentence; position: its index in its paragraph (0 = opening sentence);
    rare words: the share of its words seen at most RARE_COUNT times in the whole text (vocabulary, not
    topic: a representation that keeps it has learned word statistics rather than meaning).
    """
    words = [re.findall(r"\w+", s.lower()) for s in sentences]
    counts: dict[str, int] = {}
    for ws in words:
        for w in ws:
            counts[w] = counts.get(w, 0) + 1
    rare = [sum(counts[w] <= RARE_COUNT for w in ws) / max(len(ws), 1) for ws in words]
    lengths = [float(len(ws)) for ws in words]
    columns = {"length": lengths, "position": [float(p) for p in positions], "rare words": rare}
    return {name: Factor(torch.tensor(values, dtype=torch.float64)) for name, values in columns.items()}


def corpus_paragraphs() -> list[Paragraph]:
    """The bundled corpus: one file per topic in assets/text/, the file name is the label."""
    files = sorted(CORPUS_DIR.glob("*.txt"))
    if not files:
        raise ConfigError(f"the bundled text corpus is missing: no .txt files in {CORPUS_DIR}")
    paragraphs = []
    for path in files:
        for para in parse_txt(path.read_text(encoding="utf-8")):
            paragraphs.append(Paragraph(para.sentences, path.stem))
    return _interleave(paragraphs)


def _interleave(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Topics taken in turn, so the first n sentences of the corpus cover every topic."""
    by_label: dict[str | None, list[Paragraph]] = {}
    for para in paragraphs:
        by_label.setdefault(para.label, []).append(para)
    queues = list(by_label.values())
    out = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out


def load_corpus(seq_len: int = DEFAULT_SEQ_LEN, n: int | None = None) -> TextDataset:
    return build_text_dataset(CORPUS_NAME, corpus_paragraphs(), seq_len, n)


def load_text_file(path: Path, seq_len: int = DEFAULT_SEQ_LEN, n: int | None = None) -> TextDataset:
    """A ``.txt`` or ``.csv`` from disk (the CLI, or an upload the app stored under its content hash)."""
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise TextDecodeError(path.name, f"is over the {MAX_TEXT_BYTES // 2**20} MB limit for text")
    return build_text_dataset(path.name, parse_text_file(path.read_bytes(), path.name), seq_len, n)


def load_text_uploads(files: list[tuple[str, bytes]], seq_len: int = DEFAULT_SEQ_LEN):
    """Several uploaded files as one dataset; returns (dataset or None, [errors]) so one bad file sinks nothing."""
    paragraphs, errors = [], []
    for filename, data in files:
        try:
            paragraphs += parse_text_file(data, filename)
        except TextDecodeError as err:
            errors.append(err)
    if not paragraphs:
        return None, errors
    return build_text_dataset("uploaded text", paragraphs, seq_len), errors
