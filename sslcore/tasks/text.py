"""What the text pretext tasks share: the tokenizer binding, token choices, and token previews.

A text batch is the dataset's rows: int64 (B, 2, L) = (sentence, the sentence after it or [PAD]).
``TextTask.admit`` checks them and trims padding; ``make_batch`` then reads (B, 2, L'). Randomness comes
from the CPU generator (as for images), so a seed gives the same batch on any device.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sslcore.augment import uniform
from sslcore.data.tokenizer import NUM_SPECIAL, PAD, Tokenizer, trim_padding
from sslcore.errors import ConfigError
from sslcore.tasks.base import PretextTask, TextView, Token

IGNORE = -100  # the label of positions a loss skips (PyTorch's cross_entropy default)


class TextTask(PretextTask):
    modality = "text"
    tokenizer: Tokenizer | None = None

    def setup(self, data) -> None:
        if getattr(data, "modality", "image") != "text":
            raise ConfigError(f"{self.title} is a text task: pick the bundled corpus or upload text")
        self.tokenizer = data.tokenizer
        self._tables: dict = {}

    def table(self, name: str, device) -> Tensor:
        """Per-vocabulary tables (continuation pieces, word starts, sampling weights), cached per device."""
        key = (name, str(device))
        if key not in self._tables:
            tok = self.tokenizer
            make = {
                "continuation": tok.continuation_table,
                "word": tok.word_table,
                "unigram": tok.unigram,
                "unigram_0.75": lambda: tok.unigram(0.75),
            }[name]
            self._tables[key] = make().to(device)
        return self._tables[key]

    def admit(self, tokens: Tensor) -> Tensor:
        """The dataset's rows, checked, as (B, 2, L') int64 with the all-[PAD] columns trimmed (a single
        sentence per row, (B, L), gets an all-[PAD] second sentence). ``make_batch`` reads this."""
        if self.tokenizer is None:
            raise ConfigError(f"{self.title} needs a text dataset: call setup(dataset) first")
        if tokens.dtype != torch.long or tokens.ndim not in (2, 3):
            raise ConfigError(f"{self.title} needs token ids shaped (B, L) or (B, 2, L), got {tuple(tokens.shape)}")
        if tokens.ndim == 2:
            tokens = torch.stack([tokens, torch.full_like(tokens, PAD)], dim=1)
        return trim_padding(tokens)

    # -- previews ---------------------------------------------------------------------------------
    def pieces(self, ids: Tensor) -> list[str]:
        return self.tokenizer.pieces(ids[ids != PAD].tolist())

    def sentence(self, ids: Tensor) -> str:
        return self.tokenizer.decode(ids[ids != PAD].tolist())

    def view(self, ids: Tensor, caption: str, marks=None, notes=None) -> TextView:
        """Non-[PAD] tokens of one row, with an optional mark and note per position."""
        tokens = []
        for pos, piece in enumerate(self.tokenizer.pieces(ids.tolist())):
            if ids[pos] == PAD:
                continue
            tokens.append(Token(piece, marks[pos] if marks else None, notes[pos] if notes else None))
        return TextView(tokens, caption)


def choose_tokens(tokens: Tensor, rate: float, gen: torch.Generator, continuation: Tensor | None = None) -> Tensor:
    """bool mask: each real token (never [PAD] [CLS] [SEP] ...) chosen with probability ``rate``.

    With a ``continuation`` table (whole-word masking) the choice is made per word and spreads to the
    word's ``##`` pieces, so a word is either hidden entirely or not at all.
    """
    real = tokens >= NUM_SPECIAL
    draw = uniform(gen, tokens.shape, 0.0, 1.0, tokens.device) < rate
    if continuation is None:
        return real & draw
    starts = real & ~continuation[tokens]
    word = (starts.long().cumsum(1) - 1).clamp_min(0)  # index of the word each position belongs to
    picked = torch.zeros_like(tokens).scatter_add_(1, word, (starts & draw).long()) > 0
    return picked.gather(1, word) & real


def join_segments(first: Tensor, second: Tensor) -> Tensor:
    """``[CLS] A [SEP]`` + ``B [SEP]`` for rows shaped ``[CLS] … [SEP] [PAD]…`` → (B, 2L-1) ids, padded."""
    n, length = first.shape
    len_a = (first != PAD).sum(1, keepdim=True)  # CLS … SEP
    len_b = (second != PAD).sum(1, keepdim=True) - 1  # B without its CLS
    pos = torch.arange(2 * length - 1, device=first.device).expand(n, -1)
    source = torch.where(pos < len_a, pos, length + 1 + pos - len_a).clamp_max(2 * length - 1)
    joined = torch.cat([first, second], dim=1).gather(1, source)
    return joined.masked_fill(pos >= len_a + len_b, PAD)
