"""The text backbone: a small Transformer encoder whose mean-pooled states are the sentence features."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sslcore.data.tokenizer import PAD, trim_padding
from sslcore.errors import ConfigError
from sslcore.models.backbones import Backbone, whole


class TextEncoder(Backbone):
    """Token + position embeddings, a few pre-norm Transformer layers, mean pooling over real tokens.

    A ``TextBackbone``. Small by default (``width`` 128, ``depth`` 2) so that a one-minute run on a CPU
    takes enough steps to learn something; the text section of docs/benchmarks.md (benchmarks/quality.py)
    records how many steps such a run gets. No dropout: runs this short underfit, they do not overfit,
    and dropout's random masks cost a noticeable share of a CPU step. ``forward`` takes (B, L) ids, or the
    text dataset's (B, 2, L) rows, of which it encodes the first sentence: features describe one sentence.
    ``vocab_size`` and ``max_len`` come from the dataset (its tokenizer, twice its sentence length).
    """

    name = "transformer"
    modality = "text"
    data_args = {"vocab_size": 2, "max_len": 1}  # the tokenizer's size, twice the sentence length

    def __init__(self, vocab_size: int, width: int = 128, depth: int = 2, heads: int = 4, max_len: int = 128):
        super().__init__()
        self.init_args = self.check_args(vocab_size=vocab_size, width=width, depth=depth, heads=heads, max_len=max_len)
        self.vocab_size, self.max_len, self.feature_dim = vocab_size, max_len, width
        self.embed = nn.Embedding(vocab_size, width, padding_idx=PAD)
        self.position = nn.Embedding(max_len, width)
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.normal_(self.position.weight, std=0.02)
        with torch.no_grad():
            self.embed.weight[PAD].zero_()

    @staticmethod
    def check_args(vocab_size, width, depth, heads, max_len) -> dict:
        args = {
            "vocab_size": whole("transformer vocab_size", vocab_size, 2, 10_000_000),
            "width": whole("transformer width", width, 8, 2048),
            "depth": whole("transformer depth", depth, 1, 24),
            "heads": whole("transformer heads", heads, 1, 32),
            "max_len": whole("transformer max_len", max_len, 1, 8192),
        }
        if width % heads:
            raise ConfigError(f"transformer width ({width}) must be a multiple of heads ({heads})")
        return args

    def input_embedding(self) -> nn.Embedding:
        """The input word vectors (vocab_size, width): what skip-gram trains and MLM's output layer ties to."""
        return self.embed

    def forward_tokens(self, tokens: Tensor) -> Tensor:
        """Contextual states (B, L, width), one per token (what token-level heads such as MLM read)."""
        if tokens.shape[1] > self.max_len:
            raise ValueError(f"sequences of {tokens.shape[1]} tokens exceed this encoder's {self.max_len}")
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.embed(tokens) + self.position(positions)
        return self.norm(self.encoder(x, src_key_padding_mask=tokens == PAD))

    def forward(self, tokens: Tensor) -> Tensor:
        tokens = self._sentence(tokens)
        return self._mean_over_real(self.forward_tokens(tokens), tokens)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """Each Transformer layer: "layer 1 (128 d)" ...; its states before the final LayerNorm (which
        ``forward`` applies), mean-pooled over the real tokens."""
        width = self.init_args["width"]
        return [(f"layer {i + 1} ({width} d)", layer) for i, layer in enumerate(self.encoder.layers)]

    def pool_stage(self, output: Tensor, x: Tensor) -> Tensor:
        """A layer's (B, L, width) states, averaged over the real tokens of ``x``, as ``forward`` pools."""
        return self._mean_over_real(output, self._sentence(x))

    @staticmethod
    def _sentence(tokens: Tensor) -> Tensor:
        """(B, L) ids of the first sentence, all-padding columns trimmed (what ``forward_tokens`` is given)."""
        return trim_padding(tokens[:, 0] if tokens.ndim == 3 else tokens)

    @staticmethod
    def _mean_over_real(states: Tensor, tokens: Tensor) -> Tensor:
        real = (tokens != PAD).unsqueeze(-1).to(states.dtype)
        return (states * real).sum(1) / real.sum(1).clamp_min(1)


TEXT_BACKBONES = {cls.name: cls for cls in (TextEncoder,)}
