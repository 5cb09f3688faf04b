"""Replaced token detection (Clark, Luong, Le & Manning, ICLR 2020): ELECTRA's "spot the fake word"."""

from dataclasses import dataclass

import torch
from torch import nn

from sslcore.augment import randint, to_device
from sslcore.data.tokenizer import NUM_SPECIAL
from sslcore.losses import binary_classification_loss
from sslcore.models.protocols import TextBackbone, require
from sslcore.tasks.base import PretextBatch, Teaching, TextPreviewItem, param
from sslcore.tasks.text import IGNORE, TextTask, choose_tokens


class ReplacedToken(TextTask):
    name = "replaced_token"
    title = "Replaced token detection (ELECTRA)"
    kind = "classification"
    summary = "Swap some words for sampled ones and predict, for every word, whether it was swapped."
    metric_label = "balanced accuracy (replaced vs original)"
    teaching = Teaching(
        predicts="For every token: is it the original, or was it replaced?",
        why="Every position gives a training signal, not only the 15% that MLM hides, so it learns more per "
        "sentence; to spot a word that does not belong it must know what belongs.",
        shortcuts="Replacements drawn without looking at the sentence are often easy to spot from grammar "
        "alone (a verb where a noun must be). ELECTRA samples them from a small masked language model so "
        "they are plausible; this lab uses the corpus's word frequencies, which the paper's ablations "
        "show is weaker. A sampled word equal to the original counts as original.",
        guard="Sample replacements by word frequency (unigram) rather than uniformly, so frequent words appear "
        "as fakes as often as in real text; score balanced accuracy, since most tokens are originals.",
        paper="Clark, Luong, Le & Manning. ELECTRA: Pre-training Text Encoders as Discriminators Rather Than "
        "Generators. ICLR 2020.",
    )

    @dataclass
    class Params:
        replace_rate: float = param(0.15, "Fraction of tokens replaced by a sampled token.", min=0.05, max=0.5)
        sampler: str = param(
            "unigram", "How fakes are drawn: by corpus frequency (unigram) or uniformly.", choices=("unigram", "uniform")
        )

    def make_batch(self, tokens, gen):
        x = tokens[:, 0]
        chosen = choose_tokens(x, self.params.replace_rate, gen)
        if self.params.sampler == "unigram":
            weights = self.table("unigram", "cpu")
            fakes = to_device(torch.multinomial(weights, x.numel(), replacement=True, generator=gen).view(x.shape), x.device)
        else:
            fakes = randint(gen, len(self.tokenizer) - NUM_SPECIAL, x.shape, x.device) + NUM_SPECIAL
        inputs = torch.where(chosen, fakes, x)
        replaced = inputs != x  # a fake equal to the original is not a replacement
        targets = torch.where(x >= NUM_SPECIAL, replaced.long(), IGNORE)
        return PretextBatch(inputs, targets, tokens, {"replaced": replaced})

    def head(self, backbone, image_size):
        require(backbone, TextBackbone, "replaced-token detection reads one state per token")
        width = backbone.feature_dim
        return nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, 1))

    def forward(self, backbone, head, batch):
        states = backbone.forward_tokens(batch.inputs)
        return head(states[batch.targets != IGNORE]).squeeze(-1)

    def loss(self, out, batch):
        return binary_classification_loss(out, batch.targets[batch.targets != IGNORE])

    def explain(self, batch):
        items = []
        for i in range(len(batch)):
            x, replaced = batch.originals[i, 0], batch.extra["replaced"][i]
            original = self.tokenizer.pieces(x.tolist())
            marks = ["replaced" if r else None for r in replaced.tolist()]
            notes = [f"was {original[pos]}" if r else None for pos, r in enumerate(replaced.tolist())]
            count = int(replaced.sum())
            label = f"{count} token{'s' * (count != 1)} replaced: label 1 there, 0 at every other token"
            items.append(TextPreviewItem(self.sentence(x), [self.view(batch.inputs[i], "network input", marks, notes)], label))
        return items
