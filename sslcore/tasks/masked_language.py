"""Masked language modelling (Devlin, Chang, Lee & Toutanova, NAACL 2019): BERT's fill-in-the-blank."""

from dataclasses import dataclass

import torch
from torch import nn

from sslcore.augment import randint, uniform
from sslcore.data.tokenizer import MASK, NUM_SPECIAL
from sslcore.losses import classification_loss
from sslcore.models.protocols import TextBackbone, require
from sslcore.tasks.base import PretextBatch, Teaching, TextPreviewItem, param
from sslcore.tasks.text import IGNORE, TextTask, choose_tokens


class TiedWordScores(nn.Module):
    """BERT's output layer: a transform, then a score per vocabulary word from the *input* word vectors.

    Tying the two tables, as BERT does, means every prediction also trains the word vectors the sentence
    features are built from (Press & Wolf 2017), and saves a vocabulary-sized matrix.
    """

    def __init__(self, width: int, vocab_size: int):
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.LayerNorm(width))
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, states, word_vectors):
        return self.transform(states) @ word_vectors.t() + self.bias


class MaskedLanguage(TextTask):
    name = "masked_language"
    title = "Masked language modelling (BERT)"
    kind = "classification"
    summary = "Hide 15% of the words and predict each hidden word from the words around it."
    metric_label = "masked-token accuracy"
    teaching = Teaching(
        predicts="The original token at every chosen position, out of the whole vocabulary.",
        why="Filling a blank needs grammar (a noun goes here) and meaning (which noun fits this topic), "
        "so the encoder learns what words mean from the company they keep.",
        shortcuts="If the chosen tokens were always [MASK], the model would only learn to handle [MASK], which "
        "never appears later; frequent words (the, of) are easy points that teach little.",
        guard="Of the chosen tokens only 80% become [MASK], 10% a random token and 10% stay, so every "
        "position must be understood; whole-word masking hides all pieces of a word, so the end of a word "
        "cannot be guessed from its start.",
        paper="Devlin, Chang, Lee & Toutanova. BERT: Pre-training of Deep Bidirectional Transformers for "
        "Language Understanding. NAACL 2019.",
    )

    @dataclass
    class Params:
        mask_rate: float = param(0.15, "Fraction of tokens chosen for prediction.", min=0.05, max=0.5)
        whole_word: bool = param(False, "Choose whole words: all ## pieces of a word are hidden together.")
        random_and_keep: bool = param(
            True, "Of the chosen tokens, 80% [MASK], 10% random, 10% unchanged (off: all become [MASK])."
        )

    def make_batch(self, tokens, gen):
        x = tokens[:, 0]
        p = self.params
        chosen = choose_tokens(x, p.mask_rate, gen, self.table("continuation", x.device) if p.whole_word else None)
        split = uniform(gen, x.shape, 0.0, 1.0, x.device)
        if p.random_and_keep:
            masked, replaced = chosen & (split < 0.8), chosen & (split >= 0.8) & (split < 0.9)
        else:
            masked, replaced = chosen, torch.zeros_like(chosen)
        random_ids = randint(gen, len(self.tokenizer) - NUM_SPECIAL, x.shape, x.device) + NUM_SPECIAL
        inputs = torch.where(masked, MASK, torch.where(replaced, random_ids, x))
        targets = torch.where(chosen, x, IGNORE)
        kept = chosen & ~masked & ~replaced
        return PretextBatch(inputs, targets, tokens, {"masked": masked, "replaced": replaced, "kept": kept})

    def head(self, backbone, image_size):
        require(backbone, TextBackbone, "masked language modelling reads token states and the word vectors")
        return TiedWordScores(backbone.feature_dim, backbone.vocab_size)

    def forward(self, backbone, head, batch):
        states = backbone.forward_tokens(batch.inputs)
        # scores only where a word was hidden (7x less work), against the backbone's own word vectors
        return head(states[batch.targets != IGNORE], backbone.input_embedding().weight)

    def loss(self, out, batch):
        return classification_loss(out, batch.targets[batch.targets != IGNORE])  # only the chosen positions

    def explain(self, batch):
        items = []
        for i in range(len(batch)):
            x, extra = batch.originals[i, 0], {k: v[i] for k, v in batch.extra.items()}
            original = self.pieces(x)
            marks, notes = [], []
            for pos in range(len(x)):
                word = original[pos] if pos < len(original) else ""
                if extra["masked"][pos]:
                    marks.append("masked"), notes.append(word)
                elif extra["replaced"][pos]:
                    marks.append("random"), notes.append(word)
                elif extra["kept"][pos]:
                    marks.append("kept"), notes.append(word)
                else:
                    marks.append(None), notes.append(None)
            hidden = [original[pos] for pos in (batch.targets[i] != IGNORE).nonzero().flatten().tolist()]
            label = (
                f"predict {len(hidden)} token{'s' * (len(hidden) != 1)}: {', '.join(hidden)}"
                if hidden
                else "no token chosen in this sentence (it happens: each is chosen at random)"
            )
            view = self.view(batch.inputs[i], "network input", marks, notes)
            items.append(TextPreviewItem(self.sentence(x), [view], label))
        return items
