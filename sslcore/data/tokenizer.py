"""A small WordPiece-style tokenizer, trained in a second on whatever text is at hand.

Why this design: the corpora here are small (a few thousand sentences), too little for a learned BPE to
find good merges, while a pure word vocabulary would turn every unseen word into ``[UNK]``. So frequent
words stay whole (masking one hides a meaning, not a fragment), and any other word is split greedily,
longest match first, into pieces that several words share (``rece`` + ``##ive``, ``moon`` + ``##less``)
or, at worst, single characters. Only characters never seen in training become ``[UNK]``, so any Unicode input encodes.
Because rare words span several pieces, BERT's whole-word masking has something to do.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

import torch

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD, UNK, CLS, SEP, MASK = range(len(SPECIALS))
NUM_SPECIAL = len(SPECIALS)
CONTINUATION = "##"
MAX_WORD_CHARS = 40  # longer "words" (hashes, URLs, base64) become [UNK] instead of 40 pieces
WORD_RE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def trim_padding(tokens: torch.Tensor) -> torch.Tensor:
    """Drop the trailing columns that are [PAD] in every row: half the work on typical sentences, same result."""
    length = max(1, int((tokens != PAD).sum(-1).max()))
    return tokens[..., :length]


def normalize(text: str) -> str:
    """NFKC, lower case, control and format characters removed (any Unicode string in, never an error)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch.isspace() or not unicodedata.category(ch).startswith("C"))


def words(text: str) -> list[str]:
    """Normalised words and punctuation marks, the units the vocabulary is built from."""
    return WORD_RE.findall(normalize(text))


class Tokenizer:
    """Maps text to token ids and back. ``counts`` are token frequencies on the training text."""

    def __init__(self, vocab: list[str], counts: list[int] | None = None):
        if tuple(vocab[:NUM_SPECIAL]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with the special tokens {SPECIALS}")
        self.vocab = list(vocab)
        self.index = {token: i for i, token in enumerate(self.vocab)}
        self.counts = list(counts) if counts is not None else [0] * len(self.vocab)
        self._cache: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.vocab)

    # -- training -----------------------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Iterable[str], max_vocab: int = 6000, min_count: int | None = None, max_pieces: int = 1500):
        """Frequent words whole; word starts and ``##`` pieces shared by 4+ different words; every seen
        character as a last resort.

        By default a word must occur twice to be whole (once is too rare to learn a vector for), except in
        a small text (a pasted paragraph, under 2,000 words), where every word is kept whole.
        """
        word_counts = Counter(w for text in texts for w in words(text))
        if min_count is None:
            min_count = 2 if sum(word_counts.values()) >= 2000 else 1
        chars = sorted({ch for w in word_counts for ch in w})
        pieces = Counter()  # word starts and inner pieces shared by several different words (rece-, ##ive)
        for w in word_counts:
            seen = {w[:k] for k in range(2, min(7, len(w)) + 1)}
            seen |= {CONTINUATION + w[i:j] for i in range(1, len(w) - 1) for j in range(i + 2, min(i + 6, len(w)) + 1)}
            pieces.update(seen)
        # ties broken by the piece itself: the pieces were counted from sets, whose order changes with the process's
        # string hashing, and a tokenizer must give the same ids in the app, the worker and on a Ray node
        shared = sorted((p for p, c in pieces.items() if c >= 4), key=lambda p: (-pieces[p] * len(p), p))[:max_pieces]
        fallback = [*chars, *(CONTINUATION + ch for ch in chars)]
        room = max(0, max_vocab - NUM_SPECIAL - len(shared) - len(fallback))
        whole = [w for w, c in word_counts.most_common(room) if c >= min_count]
        vocab = list(dict.fromkeys([*SPECIALS, *whole, *shared, *fallback]))
        tokenizer = cls(vocab)
        counts = Counter()
        for w, c in word_counts.items():
            for i in tokenizer._word_ids(w):
                counts[i] += c
        tokenizer.counts = [counts.get(i, 0) for i in range(len(vocab))]
        return tokenizer

    # -- encoding -----------------------------------------------------------------------------------
    def _word_ids(self, word: str) -> list[int]:
        """Greedy longest-match WordPiece for one normalised word; unseen characters become [UNK]."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if word in self.index:
            ids = [self.index[word]]
        elif len(word) > MAX_WORD_CHARS:
            ids = [UNK]
        else:
            ids, start = [], 0
            while start < len(word):
                prefix = CONTINUATION if start else ""
                for end in range(len(word), start, -1):
                    piece = self.index.get(prefix + word[start:end])
                    if piece is not None:
                        ids.append(piece)
                        start = end
                        break
                else:
                    ids.append(UNK)
                    start += 1
        if len(self._cache) < 200_000:
            self._cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        return [i for w in words(text) for i in self._word_ids(w)]

    def tokenize(self, text: str) -> list[str]:
        return [self.vocab[i] for i in self.encode(text)]

    def encode_rows(self, texts: list[str], seq_len: int) -> torch.Tensor:
        """``[CLS] tokens… [SEP] [PAD]…`` rows of exactly ``seq_len`` ids (long texts are cut, keeping [SEP])."""
        rows = torch.full((len(texts), seq_len), PAD, dtype=torch.long)
        for r, text in enumerate(texts):
            ids = [CLS, *self.encode(text)[: seq_len - 2], SEP]
            rows[r, : len(ids)] = torch.tensor(ids)
        return rows

    # -- decoding and tables --------------------------------------------------------------------------
    def pieces(self, ids) -> list[str]:
        return [self.vocab[int(i)] for i in ids]

    def decode(self, ids) -> str:
        """Readable text: [PAD] [CLS] [SEP] dropped, ``##`` pieces glued back to their word."""
        out = ""
        for token in self.pieces(ids):
            if token in SPECIALS and token != SPECIALS[UNK] and token != SPECIALS[MASK]:
                continue
            if token.startswith(CONTINUATION):
                out += token[len(CONTINUATION) :]
            else:
                glued = not out or out[-1] in "([{‘“'-/" or token in ".,;:!?)]}’”'%-/…"
                out += ("" if glued else " ") + token
        return out

    def continuation_table(self) -> torch.Tensor:
        """bool (V,): True for ``##`` pieces, which continue the word before them (for whole-word masking)."""
        return torch.tensor([t.startswith(CONTINUATION) for t in self.vocab], dtype=torch.bool)

    def word_table(self) -> torch.Tensor:
        """bool (V,): True for tokens that are whole words or word starts with a letter or digit."""
        return torch.tensor(
            [i >= NUM_SPECIAL and not t.startswith(CONTINUATION) and t[0].isalnum() for i, t in enumerate(self.vocab)],
            dtype=torch.bool,
        )

    def unigram(self, power: float = 1.0) -> torch.Tensor:
        """float (V,) sampling distribution over real tokens ∝ count**power (specials get zero)."""
        counts = torch.tensor(self.counts, dtype=torch.float64).clamp_min(0)
        counts[:NUM_SPECIAL] = 0
        if counts.sum() == 0:
            counts[NUM_SPECIAL:] = 1
        probs = counts.pow(power)
        return (probs / probs.sum()).float()

    def to_dict(self) -> dict:
        return {"vocab": self.vocab, "counts": self.counts}

    @classmethod
    def from_dict(cls, data: dict) -> Tokenizer:
        return cls(data["vocab"], data.get("counts"))
