"""What a trained network predicts: held-out examples, the pretext head's answer beside the truth.

The network and its head are rebuilt from the run's safetensors, the run's own test split is taken, the
task makes its batch exactly as in training (same ``prepare``), and the task's own ``explain`` describes
the truth. This module adds the prediction: the rotation it guesses, the jigsaw permutation, the patch
position, the colours, the reconstruction beside the hidden region, the masked words, the replaced tokens,
the sentence order, the nearest context words, and which view a contrastive network pairs with which.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from sslcore import artifacts
from sslcore.errors import ArtifactError
from sslcore.evaluate import split_indices
from sslcore.kinds import CUSTOM, FINETUNE
from sslcore.tasks.base import PreviewImage, PreviewItem, TextPreviewItem
from sslcore.train import RANDOM_INIT, SUPERVISED, TrainConfig, load_run_data, make_objective, objective_inputs

DEFAULT_COUNT = 6
REGRESSION_CLOSE = 0.1  # a regressed amount counts as right within this share of its range
RIGHT, WRONG = "✓", "✗"


@dataclass
class Predictions:
    """``items`` are PreviewItems or TextPreviewItems whose labels say truth and prediction; ``correct``
    counts the shown examples the head got right (of ``total``), so a page can sum them up in words."""

    items: list
    correct: int
    total: int
    what: str  # "rotation", "masked words"... what is being predicted, for a heading


def predict_run(run_dir: str | Path, config: dict, count: int = DEFAULT_COUNT, data=None) -> Predictions:
    """Predictions of a finished run on ``count`` held-out examples of its own test split."""
    cfg = TrainConfig.from_dict(config)
    if cfg.task == RANDOM_INIT:
        raise ArtifactError("the random-init baseline has no head: it predicts nothing")
    data = load_run_data(cfg, data)
    _, test_idx = split_indices(data.labels, cfg.seed, cfg.test_fraction)
    picked = test_idx[:count]
    backbone = artifacts.load_backbone(run_dir, cfg.backbone)
    task = make_objective(cfg, len(data.class_names))
    task.setup(data)
    head = task.head(backbone, cfg.image_size)
    path = Path(run_dir) / artifacts.HEAD
    try:
        head.load_state_dict(load_file(str(path)))  # safetensors: tensors only, never pickle
    except Exception as err:  # missing, damaged, or the head of another setting
        raise ArtifactError(f"{path} could not be loaded: {str(err)[:200]}") from None
    backbone.eval(), head.eval()
    inputs = objective_inputs(cfg, task, data.inputs[picked])  # a colorization run's fine-tune: grey, as it trained
    batch = task.prepare(inputs, torch.Generator().manual_seed(cfg.seed))
    if getattr(task, "needs_labels", False):
        batch.targets = data.labels[picked]
    with torch.no_grad():
        out = task.forward(backbone, head, batch)
    items = task.explain(batch)
    describe = DESCRIBE.get(cfg.task, _classes)
    return describe(task, batch, out, items, data)


# ------------------------------------------------------------------------------------------- per task
def _verdict(items, truths, guesses, words, what: str) -> Predictions:
    """Append 'network: X ✓/✗' to each item's truth (all tasks whose head picks one class)."""
    correct = 0
    for item, truth, guess in zip(items, truths, guesses):
        ok = truth == guess
        correct += ok
        item.label = f"truth: {item.label}  \nnetwork: {words(guess)} {RIGHT if ok else WRONG}"
    return Predictions(items, correct, len(items), what)


def _classes(task, batch, out, items, data) -> Predictions:
    guesses = out.argmax(-1).tolist()
    return _verdict(items, batch.targets.tolist(), guesses, lambda k: f"class {k}", "the class")


def _rotation(task, batch, out, items, data) -> Predictions:
    turns = task.quarter_turns()
    return _verdict(
        items, batch.targets.tolist(), out.argmax(-1).tolist(), lambda k: f"rotated {90 * turns[k]}°", "the rotation"
    )


def _jigsaw(task, batch, out, items, data) -> Predictions:
    perms = task.perms()
    words = lambda k: f"permutation {k}: tiles {' '.join(str(int(v)) for v in perms[k])}"  # noqa: E731
    return _verdict(items, batch.targets.tolist(), out.argmax(-1).tolist(), words, "the tile order")


def _relative_position(task, batch, out, items, data) -> Predictions:
    from sslcore.tasks.relative_position import NEIGHBOUR_NAMES

    words = lambda k: f"{NEIGHBOUR_NAMES[k]} of the centre"  # noqa: E731
    return _verdict(items, batch.targets.tolist(), out.argmax(-1).tolist(), words, "where the neighbour patch is")


def _supervised(task, batch, out, items, data) -> Predictions:
    names = data.class_names
    for item, k in zip(items, batch.targets.tolist()):
        item.label = f"{names[k]} (class {k})"
    return _verdict(items, batch.targets.tolist(), out.argmax(-1).tolist(), lambda k: names[k], "the class")


def _custom(task, batch, out, items, data) -> Predictions:
    """A design's own words: the transformation or level it tells apart, the amounts it regresses, or, for
    matching views, which view it pairs with which."""
    d = task.definition
    if d.target == "match":
        return _views(task, batch, out, items, data)
    if not task.regression:
        what = "which transformation" if d.target == "which" else "the level"
        return _verdict(items, batch.targets.tolist(), out.argmax(-1).tolist(), lambda k: d.classes[k], what)
    guesses = out.float().clamp(0, 1)
    correct = 0
    for item, guess, truth in zip(items, guesses, batch.targets.float()):
        ok = bool(((guess - truth).abs() <= REGRESSION_CLOSE).all())
        correct += ok
        said = [s.transform.describe(s.low + float(g) * (s.high - s.low)) for s, g in zip(d.steps, guess)]
        item.label = f"truth: {item.label}  \nnetwork: {', '.join(said)} {RIGHT if ok else WRONG}"
    return Predictions(items, correct, len(items), f"the amounts (right within {REGRESSION_CLOSE:.0%} of each range)")


def _sentence_order(task, batch, out, items, data) -> Predictions:
    words = {0: "in order (class 0)", 1: "wrong order or another paragraph (class 1)"}.get
    return _verdict(items, batch.targets.tolist(), out.argmax(-1).tolist(), words, "whether B follows A")


def _colorization(task, batch, out, items, data) -> Predictions:
    from sslcore.color import AB_RANGE, lab_to_rgb
    from sslcore.tasks.colorization import ANNEAL_T, ab_to_bins, annealed_mean, bin_centres

    out = F.interpolate(out.float(), size=batch.inputs.shape[-2:], mode="bilinear", align_corners=False)
    bins = task.params.bins
    # the paper's annealed mean (T = 0.38) of the predicted colour distribution; a regressing head gives ab
    ab = annealed_mean(out, bin_centres(bins), ANNEAL_T) if task.params.target == "bins" else out * AB_RANGE
    rgb = lab_to_rgb(torch.cat([batch.extra["lightness"], ab], dim=1))
    truth = ab_to_bins(batch.extra["ab"], bins)
    hits = (ab_to_bins(ab, bins) == truth).float().mean((1, 2))
    for item, picture, hit in zip(items, rgb, hits.tolist()):
        caption = f"network's colours (annealed mean, T = {ANNEAL_T})" if task.params.target == "bins" else "network's colours"
        item.views.append(PreviewImage(picture, caption))
        item.label = f"truth: {item.label}  \nnetwork: {100 * hit:.0f}% of pixels in the right colour bin"
    good = int((hits > 0.5).sum())
    return Predictions(items, good, len(items), "the colours (right when over half the pixels are)")


def _reconstruction(task, batch, out, items, data) -> Predictions:
    """Autoencoder, inpainting, masked image modelling: the network's picture beside the truth, PSNR in dB."""
    pred = out.float()
    if pred.shape[-2:] != batch.originals.shape[-2:]:
        pred = F.interpolate(pred, size=batch.originals.shape[-2:], mode="bilinear", align_corners=False)
    mask = batch.extra.get("mask")
    if mask is None:
        mask = torch.ones_like(batch.originals[:, :1], dtype=torch.bool)
    target = batch.targets
    if getattr(task.params, "norm_pix", False):  # MAE's normalised patches: shown with the true patch statistics
        from sslcore.tasks.masked_image import denormalise_patches

        pred = denormalise_patches(pred, batch.originals, task.params.patch)
        target = batch.originals
    shown = torch.where(mask, pred.clamp(0, 1), batch.inputs)
    good = 0
    for i, item in enumerate(items):
        m = mask[i].expand_as(target[i])
        mse = F.mse_loss(pred[i][m], target[i][m]).clamp_min(1e-10)
        psnr = float(-10 * torch.log10(mse))
        good += psnr >= 20
        item.views.append(PreviewImage(shown[i], "network's reconstruction"))
        verdict = "close to the truth" if psnr >= 20 else "far from the truth (20 dB or more looks close)"
        item.label = f"{item.label}  \nnetwork: {psnr:.1f} dB PSNR, {verdict}"
    return Predictions(items, good, len(items), "the hidden pixels (close when PSNR ≥ 20 dB)")


def _views(task, batch, out, items, data) -> Predictions:
    """SimCLR / SimSiam: for view 1 of each image, the nearest of all other views; right when it is view 2."""
    z = out[1] if isinstance(out, tuple) else out
    z = F.normalize(z.float(), dim=1)
    n = len(batch)
    sims = z @ z.T
    sims.fill_diagonal_(-2)
    nearest = sims[:n].argmax(1).tolist()
    correct = 0
    for i, (item, j) in enumerate(zip(items, nearest)):
        ok = j == i + n
        correct += ok
        which = f"view {1 + j // n} of image {j % n + 1}"
        item.views.append(PreviewImage(batch.inputs[j], f"nearest to view 1: {which}"))
        item.label = (
            f"truth: view 2 of image {i + 1} is view 1's partner  \n"
            f"network: nearest to view 1 is {which} {RIGHT if ok else WRONG} (among {2 * n - 1} views)"
        )
    return Predictions(items, correct, n, "which view is the partner")


def _masked_language(task, batch, out, items, data) -> Predictions:
    from sslcore.tasks.text import IGNORE

    guesses = out.argmax(-1).tolist()
    k, correct, total = 0, 0, 0
    for i, item in enumerate(items):
        targets = batch.targets[i]
        positions = (targets != IGNORE).nonzero().flatten().tolist()
        said = []
        for pos in positions:
            truth, guess = int(targets[pos]), guesses[k]
            k += 1
            ok = truth == guess
            correct, total = correct + ok, total + 1
            word, guessed = task.tokenizer.pieces([truth])[0], task.tokenizer.pieces([guess])[0]
            said.append(f"{word} → {guessed} {RIGHT if ok else WRONG}")
        item.label = "truth → network: " + ("; ".join(said) if said else "no word hidden in this sentence")
    return Predictions(items, correct, total, "the hidden words")


def _replaced_token(task, batch, out, items, data) -> Predictions:
    from sslcore.tasks.text import IGNORE

    guesses = (out > 0).tolist()
    k, correct, total = 0, 0, 0
    for i, item in enumerate(items):
        targets = batch.targets[i]
        flagged, missed, wrongly = [], [], []
        pieces = task.tokenizer.pieces(batch.inputs[i].tolist())
        for pos in (targets != IGNORE).nonzero().flatten().tolist():
            truth, guess = bool(targets[pos]), guesses[k]
            k += 1
            correct, total = correct + (truth == guess), total + 1
            if truth and guess:
                flagged.append(pieces[pos])
            elif truth:
                missed.append(pieces[pos])
            elif guess:
                wrongly.append(pieces[pos])
        item.label = (
            f"truth: {item.label}  \nnetwork: caught {', '.join(flagged) or 'none'} {RIGHT}; "
            f"missed {', '.join(missed) or 'none'}; wrongly flagged {', '.join(wrongly) or 'none'}"
        )
    return Predictions(items, correct, total, "which tokens were replaced (every token counts)")


def _skip_gram(task, batch, out, items, data) -> Predictions:
    """For each sentence's centre word: the words the network scores highest as its context."""
    true, fake = out
    hits = (true[:, None] > fake).all(1)
    extra = batch.extra
    correct = total = 0
    for i, item in enumerate(items):
        mine = (extra["row"] == i).nonzero().flatten()
        if len(mine) == 0:
            continue
        centre = int(extra["centre_pos"][mine[0]])
        pairs = mine[extra["centre_pos"][mine] == centre]
        ok = int(hits[pairs].sum())
        correct, total = correct + ok, total + len(pairs)
        item.label = (
            f"truth: {item.label}  \nnetwork: the true context beat every random word in {ok} of {len(pairs)} pairs"
        )
    return Predictions(items, correct, total, "true context words against random ones")


DESCRIBE = {
    "rotation": _rotation,
    "jigsaw": _jigsaw,
    "relative_position": _relative_position,
    "colorization": _colorization,
    "inpainting": _reconstruction,
    "autoencoder": _reconstruction,
    "masked_image": _reconstruction,
    "simclr": _views,
    "simsiam": _views,
    SUPERVISED: _supervised,
    FINETUNE: _supervised,  # a fine-tune (or scratch) predicts the real classes: named like supervised's
    CUSTOM: _custom,
    "masked_language": _masked_language,
    "replaced_token": _replaced_token,
    "sentence_order": _sentence_order,
    "skip_gram": _skip_gram,
}


def is_text_items(predictions: Predictions) -> bool:
    return bool(predictions.items) and isinstance(predictions.items[0], TextPreviewItem)


__all__ = ["DEFAULT_COUNT", "DESCRIBE", "PreviewItem", "Predictions", "is_text_items", "predict_run"]
