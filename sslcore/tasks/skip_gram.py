"""Skip-gram with negative sampling (Mikolov et al., NeurIPS 2013): word2vec's context prediction."""

from dataclasses import dataclass

import torch
from torch import nn

from sslcore.augment import randint, to_device, uniform
from sslcore.losses import negative_sampling_loss
from sslcore.models.protocols import TextBackbone, require
from sslcore.tasks.base import PretextBatch, Teaching, TextPreviewItem, param
from sslcore.tasks.text import TextTask


class SkipGram(TextTask):
    name = "skip_gram"
    title = "Skip-gram (word2vec)"
    kind = "contrastive"
    summary = "From a centre word, tell its real context words apart from random words."
    metric_label = "pair accuracy (true context beats every negative)"
    teaching = Teaching(
        predicts="For a (centre word, other word) pair: is the other word really near the centre word, or one "
        "of k random words drawn by frequency?",
        why="Words used in the same contexts get similar vectors (the distributional hypothesis): 'oven' "
        "and 'bake' end up near each other. The word map shows it.",
        shortcuts="Frequent words (the, and) sit near everything and would dominate; a fixed window would "
        "weight far words as much as near ones.",
        guard="Frequent words are dropped at random (subsampling) and negatives are drawn ∝ frequency^0.75; "
        "the window size is drawn per centre word, so near words count more. Only the embedding table "
        "learns here: the Transformer layers above it stay at their random start.",
        paper="Mikolov, Sutskever, Chen, Corrado & Dean. Distributed Representations of Words and Phrases and "
        "their Compositionality. NeurIPS 2013.",
    )

    @dataclass
    class Params:
        window: int = param(4, "Largest distance between a centre word and a context word.", min=1, max=10)
        negatives: int = param(5, "Random words each true pair must beat.", min=1, max=20)
        subsample: float = param(
            1e-3, "Drop a word with probability 1 - sqrt(t / frequency); 0 keeps every word.", min=0.0, max=0.1
        )
        max_pairs: int = param(4096, "Pairs per batch (sampled from all pairs in the batch).", min=64, max=65536)

    def make_batch(self, tokens, gen):
        x, p = tokens[:, 0], self.params
        n, length = x.shape
        keep = self.table("word", x.device)[x]
        if p.subsample > 0:
            freq = self.table("unigram", x.device)[x].clamp_min(1e-12)
            keep &= uniform(gen, x.shape, 0.0, 1.0, x.device) < (p.subsample / freq).sqrt()
        # Dropped words leave no gap: kept positions are packed to the left before windows are taken.
        order = torch.argsort((~keep).long() * length + torch.arange(length, device=x.device), dim=1)
        count = keep.sum(1, keepdim=True)
        reach = randint(gen, p.window, (n, length), x.device) + 1  # per centre word, 1..window
        offsets = to_device(torch.tensor([o for o in range(-p.window, p.window + 1) if o]), x.device)
        slot = torch.arange(length, device=x.device)
        ctx_slot = slot[None, :, None] + offsets[None, None, :]  # (1, L, 2w)
        valid = (
            (slot[None, :, None] < count[:, :, None])
            & (ctx_slot >= 0)
            & (ctx_slot < count[:, :, None])
            & (offsets.abs()[None, None, :] <= reach[:, :, None])
        )
        row, centre_slot, k = valid.nonzero(as_tuple=True)
        if len(row) > p.max_pairs:
            pick = to_device(torch.randperm(len(row), generator=gen)[: p.max_pairs].sort().values, x.device)
            row, centre_slot, k = row[pick], centre_slot[pick], k[pick]
        centre_pos = order[row, centre_slot]
        context_pos = order[row, centre_slot + offsets[k]]
        centres, contexts = x[row, centre_pos], x[row, context_pos]
        weights = self.table("unigram_0.75", "cpu")
        draws = torch.multinomial(weights, max(1, len(row) * p.negatives), replacement=True, generator=gen)
        negatives = to_device(draws[: len(row) * p.negatives].view(len(row), p.negatives), x.device)
        extra = {"row": row, "centre_pos": centre_pos, "context_pos": context_pos, "centres": centres}
        extra["negatives"] = negatives
        return PretextBatch(x, contexts, tokens, extra)

    def head(self, backbone, image_size):
        """Context ("output") vectors, zero at the start as in word2vec."""
        require(backbone, TextBackbone, "skip-gram trains the backbone's input word vectors")
        table = nn.Embedding(backbone.vocab_size, backbone.feature_dim)
        nn.init.zeros_(table.weight)
        return table

    def forward(self, backbone, head, batch):
        centre = backbone.input_embedding()(batch.extra["centres"])  # (P, D): the backbone's own word vectors
        true = (centre * head(batch.targets)).sum(-1)
        fake = torch.einsum("pd,pkd->pk", centre, head(batch.extra["negatives"]))
        return true, fake

    def loss(self, out, batch):
        true, fake = out
        return negative_sampling_loss(true, fake)

    def explain(self, batch):
        extra, items = batch.extra, []
        for i in range(len(batch)):
            x = batch.originals[i, 0]
            mine = (extra["row"] == i).nonzero().flatten()
            if len(mine) == 0:
                label = "no pair from this sentence (its words were subsampled away or it is too short)"
                items.append(TextPreviewItem(self.sentence(x), [self.view(x, "network input")], label))
                continue
            centre = int(extra["centre_pos"][mine[0]])
            pairs = mine[extra["centre_pos"][mine] == centre]
            context = set(extra["context_pos"][pairs].tolist())
            marks = ["centre" if pos == centre else "context" if pos in context else None for pos in range(len(x))]
            words = self.tokenizer.pieces(x.tolist())
            fakes = ", ".join(self.tokenizer.pieces(extra["negatives"][pairs[0]].tolist()))
            label = (
                f"centre '{words[centre]}' → true context: {', '.join(words[c] for c in sorted(context))}; "
                f"must beat random words: {fakes}"
            )
            items.append(TextPreviewItem(self.sentence(x), [self.view(x, "centre word and its context window", marks)], label))
        return items
