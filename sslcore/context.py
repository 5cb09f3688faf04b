"""What a number rests on: steps, images seen, test-set size, chance level, and warnings in words.

Pure functions over a run's results (and config), so the Results page, the Train queue, the CLI and the
tests say the same thing. An accuracy alone misleads a newcomer: 16% after 10 steps on 15 test images
is not evidence that a task is bad, and the page has to say so.
"""

from __future__ import annotations

import math
from statistics import mean, pstdev

from sslcore.kinds import CUSTOM, FINETUNE, RANDOM_INIT, SUPERVISED
from sslcore.words import plural

MIN_TEST = 100  # fewer test examples than this and one example moves the accuracy by a point or more
PSNR_FLOOR_DB, PSNR_PERFECT_DB = 10.0, 40.0  # ~ a flat grey guess, ~ indistinguishable to the eye
LOSS_ROSE = 1.05  # the loss over the last tenth of a run more than 5% above its first tenth: it went up
LOSS_EXPLODED = 5.0  # any smoothed loss this many times the starting loss: training diverged


def chance_points(num_classes: int | None) -> float | None:
    """The accuracy (in %) of guessing the commonest class among ``num_classes`` balanced classes."""
    return 100.0 / num_classes if num_classes else None


def noise_points(test_examples: int | None) -> float | None:
    """± points one standard error of an accuracy near 50% on this many test examples: sqrt(.25/n)."""
    if not test_examples:
        return None
    return 100 * math.sqrt(0.25 / test_examples)


def images_seen(results: dict, config: dict) -> int | None:
    """Training examples the network saw: recorded by newer runs, else steps × the batch size used."""
    if results.get("images_seen") is not None:
        return int(results["images_seen"])
    steps, train = results.get("steps"), results.get("train_images")
    if steps is None:
        return None
    batch = int(config.get("batch_size") or 0)
    return int(steps * (min(batch, train) if train else batch))


def loss_trend(losses: list[float]) -> str | None:
    """'diverged' or 'rose' when the training loss exploded or ended above where it began, else None.

    Smoothed over tenths of the run, so one noisy step decides nothing."""
    if len(losses) < 10:
        return None
    tenth = max(1, len(losses) // 10)
    start, end = mean(losses[:tenth]), mean(losses[-tenth:])
    peak = max(mean(losses[i : i + tenth]) for i in range(0, len(losses) - tenth + 1, tenth))
    if start > 0 and peak > LOSS_EXPLODED * start:
        return "diverged"
    if end > LOSS_ROSE * start:
        return "rose"
    return None


def loss_warning(trend: str | None, config: dict) -> str | None:
    """The loss trend in words, with the fix."""
    lr = config.get("lr")
    rate = f"the learning rate ({lr:g})" if lr else "the learning rate"
    if trend == "diverged":
        return f"Training diverged: the loss blew up to over {LOSS_EXPLODED:g}× its start. Lower {rate}."
    if trend == "rose":
        return f"The loss went up instead of down during training. Lower {rate} or train longer."
    return None


def rising_points(curve: list[dict] | None) -> float | None:
    """Points the downstream kNN rose over the last quarter of a run's probe curve (None: too few probes)."""
    knn = [p["knn"] for p in curve or [] if p.get("knn") is not None]
    if len(knn) < 3:
        return None
    return 100 * (knn[-1] - knn[-1 - max(1, (len(knn) - 1) // 4)])


def still_rising(results: dict) -> float | None:
    """The last quarter's rise in points when the curve was still climbing steeply at the end, else None.

    Steeply: more than a third of the whole run's rise, and more than the probe's own noise (its queries
    are half the probe bank), so a flat or noisy curve never reads as "still learning"."""
    curve = results.get("probe_curve") or []
    last = rising_points(curve)
    if last is None:
        return None
    whole = 100 * (curve[-1]["knn"] - curve[0]["knn"])
    queries = (results.get("config") or {}).get("probe_size", 1000) // 2
    return last if last > max(whole / 3, noise_points(queries) or 0) else None


def flags(results: dict, config: dict, baseline_probe: float | None = None) -> list[str]:
    """Warnings, in words, about what a run's accuracy rests on (empty: nothing to warn about).

    "Too little training" is said when the evidence says it: the run did not beat random init by more than
    its test set's noise, or its downstream curve was still climbing steeply when the budget ran out. A
    step count alone says nothing: jigsaw learns in 60 steps what rotation needs hundreds for.
    """
    out: list[str] = []
    steps, test = results.get("steps"), results.get("test_images")
    probe = results.get("linear_probe")
    if baseline_probe is None:
        baseline_probe = (results.get("baseline") or {}).get("linear_probe")
    # a fine-tune's probe reads its fine-tuned backbone, not its accuracy: it is held against scratch (the lesson)
    trained = results.get("task") not in (RANDOM_INIT, FINETUNE)
    few_test = test is not None and test < MIN_TEST
    noise = noise_points(test) or 0.0
    test_words = f"{plural(test or 0, 'test image')}: ±{noise:.0f} points by chance alone"
    level = trained and probe is not None and baseline_probe is not None and 100 * (probe - baseline_probe) <= noise
    if level:
        why = [
            f"{plural(steps or 0, 'step')}: too little training to learn the task, or a task that teaches nothing this needs"
        ]
        if few_test:
            why.append(test_words)
        versus = f"({100 * probe:.1f}% vs {100 * baseline_probe:.1f}%)"
        head = f"Below random init {versus}" if probe < baseline_probe else f"No clear gain over random init {versus}"
        out.append(f"{head}: " + "; ".join(why) + ".")
    else:
        if trained and (rise := still_rising(results)) is not None:
            out.append(
                f"{plural(steps or 0, 'step')}: too little training to learn the task fully — the downstream kNN was still rising "
                f"({rise:+.1f} points in the last quarter of the run); a longer run would score higher."
            )
        if few_test:
            out.append(f"{test_words}.")
    if warning := loss_warning(results.get("loss_trend"), config):
        out.append(warning)
    return out


def context_line(results: dict, config: dict) -> str:
    """'420 steps · 107,520 images seen · 500 test images · chance 8.3%' (what is known of it), and the view
    its features were evaluated on when it is not the images themselves ('evaluated on grey inputs')."""
    parts = []
    if results.get("task") == RANDOM_INIT:
        parts.append("untrained")
    elif results.get("steps") is not None:
        parts.append(plural(results["steps"], "step"))
    if results.get("task") != RANDOM_INIT and (seen := images_seen(results, config)) is not None:
        parts.append(f"{plural(seen, 'image')} seen")
    if results.get("test_images") is not None:
        parts.append(plural(results["test_images"], "test image"))
    classes = results.get("num_classes") or len(results.get("class_names") or []) or None
    if classes:
        parts.append(f"chance {chance_points(classes):.1f}%")
    if results.get("eval_view") not in (None, "image"):  # colorization: its features never saw colour
        parts.append(f"evaluated on {results['eval_view']} inputs")
    return " · ".join(parts)


def spread(values: list[float]) -> dict:
    """Mean, min, max and standard deviation of repeated measurements (seeds) of one number."""
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0, "mean": None, "min": None, "max": None, "std": None}
    return {"n": len(values), "mean": mean(values), "min": min(values), "max": max(values), "std": pstdev(values)}


def pretext_chance(task: str, params: dict, batch_size: int | None = None, num_classes: int | None = None) -> float:
    """The pretext metric of a network that has learned nothing (a fraction, or dB for PSNR tasks)."""
    if task == "rotation":
        return 1 / int(params.get("angles", 4))
    if task == "jigsaw":
        return 1 / int(params.get("permutations", 24))
    if task == "relative_position":
        return 1 / 8
    if task == "colorization":
        return 1 / int(params.get("bins", 11)) ** 2
    if task == "simclr":
        return 1 / max(1, 2 * (batch_size or 256) - 1)
    if task == "skip_gram":
        return 1 / (int(params.get("negatives", 5)) + 1)
    if task == "replaced_token":
        return 0.5
    if task == "sentence_order":
        wrong = float(params.get("wrong_rate", 0.5))
        return max(wrong, 1 - wrong)
    if task == SUPERVISED:
        return 1 / (num_classes or 10)
    if task == CUSTOM:  # a design knows its own: 1/classes, R² 0, or 1 in (2B - 1) partners
        from sslcore.tasks import get_task  # torch: only for custom runs

        return get_task(CUSTOM, params).chance(batch_size or 256)
    if task in ("autoencoder", "inpainting", "masked_image"):
        return PSNR_FLOOR_DB
    return 0.0  # masked_language (1 / vocabulary), simsiam's spread (0 = collapsed)


def metric_is_accuracy(task: str, params: dict | None = None) -> bool:
    """Whether a run's pretext metric is an accuracy (a fraction, shown as % like every accuracy), rather than
    PSNR in dB, R² or SimSiam's spread. False for random init, which trains nothing."""
    from sslcore.errors import PretextLabError
    from sslcore.tasks import run_objective  # torch: the pages that draw training curves have it loaded

    try:
        objective = run_objective(task, params or {})
    except PretextLabError:
        return False
    return objective is not None and objective.metric == "accuracy"


def pretext_scale(task: str, metric: float | None, params: dict, batch_size=None, num_classes=None) -> float | None:
    """A pretext metric on one scale for every task: 0 = chance (learned nothing), 1 = perfect.

    PSNR has no perfect: 0 = 10 dB (about a flat grey guess), 1 = 40 dB (indistinguishable to the eye)."""
    if metric is None:
        return None
    low = pretext_chance(task, params, batch_size, num_classes)
    high = PSNR_PERFECT_DB if low == PSNR_FLOOR_DB and task in ("autoencoder", "inpainting", "masked_image") else 1.0
    return (metric - low) / (high - low)


def scale_note(task: str, params: dict, batch_size=None, num_classes=None) -> str:
    """What 0 and 1 mean for this task's metric, for a chart's hover text and caption."""
    low = pretext_chance(task, params, batch_size, num_classes)
    if task in ("autoencoder", "inpainting", "masked_image"):
        return f"0 = {PSNR_FLOOR_DB:g} dB (flat grey guess), 1 = {PSNR_PERFECT_DB:g} dB"
    if task == "simsiam":
        return "0 = collapsed (all embeddings equal), 1 = fully spread"
    return f"0 = chance ({100 * low:.3g}%), 1 = 100%"
