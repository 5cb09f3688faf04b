"""Sentence order prediction (Lan et al., ICLR 2020) and next sentence prediction (Devlin et al., 2019)."""

from dataclasses import dataclass

import torch

from sslcore.augment import uniform
from sslcore.data.tokenizer import PAD, SEP
from sslcore.errors import ConfigError
from sslcore.losses import classification_loss
from sslcore.models.heads import MLP
from sslcore.tasks.base import PretextBatch, Teaching, TextPreviewItem, param
from sslcore.tasks.text import TextTask, join_segments


class SentenceOrder(TextTask):
    name = "sentence_order"
    title = "Sentence order / next sentence"
    kind = "classification"
    summary = "Show two consecutive sentences, in order or swapped (or the second from elsewhere); predict which."
    teaching = Teaching(
        predicts="Whether segment B really follows segment A (class 0) or not (class 1: swapped, or from "
        "another paragraph).",
        why="Telling the right order needs discourse: 'this', 'then', 'as a result' point back to something "
        "said before, so the encoder must relate the two sentences' content.",
        shortcuts="BERT's next-sentence negatives come from another paragraph, usually another topic, so the "
        "model can answer by topic alone and learns little about coherence (ALBERT's finding).",
        guard="Sentence order (swap, the default) keeps both sentences from the same paragraph: same topic, "
        "only the order differs, so topic gives nothing away.",
        paper="Lan et al. ALBERT: A Lite BERT for Self-supervised Learning of Language Representations. ICLR "
        "2020; Devlin et al. BERT. NAACL 2019.",
    )

    @dataclass
    class Params:
        negative: str = param(
            "swap",
            "How a wrong pair is made: swap the two sentences (ALBERT) or take B from another paragraph (BERT).",
            choices=("swap", "random"),
        )
        wrong_rate: float = param(0.5, "Fraction of pairs that are wrong (class 1).", min=0.1, max=0.9)

    def make_batch(self, tokens, gen):
        pairs = tokens[tokens[:, 1, 0] != PAD]
        if len(pairs) < (2 if self.params.negative == "random" else 1):
            raise ConfigError(
                "sentence order needs paragraphs of two or more sentences: separate paragraphs by blank lines, "
                "with several sentences in each"
            )
        a, b = pairs[:, 0], pairs[:, 1]
        wrong = uniform(gen, (len(pairs),), 0.0, 1.0, tokens.device) < self.params.wrong_rate
        if self.params.negative == "swap":
            first = torch.where(wrong[:, None], b, a)
            second = torch.where(wrong[:, None], a, b)
        else:  # B from the next pair in the batch: another paragraph, almost always
            first, second = a, torch.where(wrong[:, None], b.roll(1, 0), b)
        inputs = join_segments(first, second)
        return PretextBatch(inputs, wrong.long(), pairs)

    def head(self, backbone, image_size):
        return MLP(backbone.feature_dim, backbone.feature_dim, 2)

    def loss(self, out, batch):
        return classification_loss(out, batch.targets)

    def explain(self, batch):
        items = []
        for i in range(len(batch)):
            ids = batch.inputs[i]
            boundary = (ids == SEP).nonzero().flatten()[0].item()
            marks = ["segment_a" if pos <= boundary else "segment_b" for pos in range(len(ids))]
            wrong = bool(batch.targets[i])
            if not wrong:
                label = "B follows A → class 0 (in order)"
            elif self.params.negative == "swap":
                label = "A and B swapped → class 1 (wrong order)"
            else:
                label = "B comes from another paragraph → class 1 (not the next sentence)"
            original = f"{self.sentence(batch.originals[i, 0])}  ⟶  {self.sentence(batch.originals[i, 1])}"
            items.append(TextPreviewItem(original, [self.view(ids, "network input: [CLS] A [SEP] B [SEP]", marks)], label))
        return items
