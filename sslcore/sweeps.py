"""Sweeps: one task, one knob varied over a few values (optionally over seeds), as one comparison group.

A sweep is an ordinary comparison (``RunStore.submit_group``: same data, same budget, the random-init
baseline added) whose runs differ in exactly one knob, so Results can draw the pretext score, the
downstream probe and the factor probes against that knob and show where the task is too easy (solved
by a shortcut) or too hard. Nothing extra is stored: ``sweep_knob`` recognises a sweep from its runs.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass

from sslcore.context import pretext_scale
from sslcore.errors import ConfigError
from sslcore.flops import format_flops
from sslcore.kinds import CUSTOM
from sslcore.limits import MAX_SEEDS
from sslcore.tasks import make_params, param_specs, task_class
from sslcore.train import RANDOM_INIT, SUPERVISED, TrainConfig

MAX_VALUES = 8
LEARNED = 0.02  # two points of probe accuracy: about the noise of a 500-image test set


# ---------------------------------------------------------------------------------------------- setting up
def default_sweep_values(spec) -> str:
    """Values to sweep a knob over, as a first guess a person can edit: every choice, both booleans, or its
    min, default and max (those it has)."""
    if spec.choices:
        return ",".join(map(str, spec.choices))
    if spec.type is bool:
        return "false,true"
    values = [v for v in (spec.min, spec.default, spec.max) if v is not None]
    return ",".join(str(v) for v in dict.fromkeys(values))


def parse_sweep(task: str, spec: str) -> tuple[str, list]:
    """``"knob=v1,v2,v3"`` -> (knob, checked values in the given order). Each value is checked like a --param."""
    if task in (CUSTOM, SUPERVISED, RANDOM_INIT):
        raise ConfigError(f"a sweep varies a knob of a built-in pretext task, not {task!r}")
    cls = task_class(task)
    knob, sep, raw = str(spec).partition("=")
    knob = knob.strip()
    if not sep or not knob:
        raise ConfigError(f"--param for a sweep expects knob=v1,v2,..., got {spec!r}")
    specs = {s.name: s for s in param_specs(cls.Params)}
    if knob not in specs:
        raise ConfigError(f"{task} has no knob {knob!r}; its knobs: {', '.join(specs)}")
    values = [getattr(make_params(cls.Params, {knob: v}), knob) for v in raw.split(",") if v.strip()]
    if len(set(values)) != len(values):
        raise ConfigError(f"each value of {knob} may appear once, got {raw!r}")
    if not 2 <= len(values) <= MAX_VALUES:
        raise ConfigError(f"a sweep needs 2 to {MAX_VALUES} values of {knob}, got {len(values)}")
    return knob, values


def sweep_configs(base: TrainConfig, knob: str, values: list, seeds: int = 1) -> list[TrainConfig]:
    """One run per value (× seed), identical but for the knob (and the seed): every value once per seed."""
    if not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"seeds must be between 1 and {MAX_SEEDS}, got {seeds}")
    if knob in base.params:
        raise ConfigError(f"{knob} is the knob being swept: do not also set it as a fixed --param")
    return [
        dataclasses.replace(base, params={**base.params, knob: value}, seed=base.seed + s).validate()
        for s in range(seeds)
        for value in values
    ]


# ------------------------------------------------------------------------------------------------- presets
@dataclass(frozen=True)
class Measured:
    """How a preset was measured here (``benchmarks/sweeps.py``, docs/benchmarks.md) and what came out. The
    preset queues exactly this setup, and its note is written from these fields: what it cites is what runs."""

    outcome: str  # what the runs found, in words (values, probes, steps)
    when: str  # "2026-11-30, 2-core CPU"
    compute: float = 1.5e12  # FLOPs of training per run
    dataset: str = "shapes"
    n: int = 2000
    batch_size: int = 64


@dataclass(frozen=True)
class Preset:
    """A sweep that reproduces a published finding on the built-in data, with its reference."""

    name: str
    title: str
    task: str
    knob: str
    values: tuple
    finding: str  # what the paper reports
    reference: str
    params: dict = dataclasses.field(default_factory=dict)  # fixed knobs that make the comparison clean
    measured: Measured | None = None  # the setup benchmarks/sweeps.py ran on shapes, and what it found

    @property
    def note(self) -> str:
        """What was measured, its setup written from the fields the preset queues (compute, data, fixed knobs)."""
        m = self.measured
        if m is None:
            return "Not measured here yet."
        fixed = "".join(f", {k}={v}" for k, v in self.params.items())
        return (
            f"{m.outcome} (on {m.dataset}, {m.n:,} images, batch {m.batch_size}, {format_flops(m.compute)} per "
            f"run{fixed}; {m.when})."
        )

    def setup(self) -> dict:
        """TrainConfig settings that run this preset as measured: data, batch, compute and the fixed knobs
        (the budget of a preset never measured is the caller's)."""
        m = self.measured
        measured = (
            {} if m is None else {"dataset": m.dataset, "n": m.n, "batch_size": m.batch_size, "compute": m.compute}
        )
        return {**measured, "params": dict(self.params)}


ON_SHAPES = "2026-11-30, 2-core CPU"
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "jigsaw_gap",
            "Jigsaw: a gap between tiles",
            "jigsaw",
            "gap",
            (0, 2, 4),
            "Without a gap (and jitter) the network matches tile edges and line continuations, a low-level "
            "shortcut; leaving gaps between tiles gave clearly better transfer.",
            "Noroozi & Favaro. Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles. ECCV 2016.",
            {"jitter": False, "normalize_tiles": False},
            Measured(
                "Disagrees at our scale: gap 0 gives 73.2% (256 steps) and gap 4 56.2% (359 steps) linear probe; the "
                "gap cuts each 16-px tile to 12 px (44% of the pixels unseen) and the shapes offer no edge shortcut to "
                "remove. Measured before per-tile normalisation existed, which this preset therefore keeps off",
                ON_SHAPES,
            ),
        ),
        Preset(
            "jigsaw_tile_norm",
            "Jigsaw: normalising each tile",
            "jigsaw",
            "normalize_tiles",
            (False, True),
            "Low-level statistics can give a tile's position away; among its guards against such shortcuts the paper "
            "normalises the mean and standard deviation of each tile independently. Turned off here, tiles of our "
            "shapes can be ordered by the brightness of their gradient backgrounds.",
            "Noroozi & Favaro. Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles. ECCV 2016.",
        ),
        Preset(
            "rotation_angles",
            "Rotation: 2 vs 4 angles",
            "rotation",
            "angles",
            (2, 4),
            "Four angles (0/90/180/270°) gave better features than two (0/180°); eight were no better than four.",
            "Gidaris, Singh & Komodakis. Unsupervised Representation Learning by Predicting Image Rotations. ICLR 2018.",
            {"all_rotations": False},  # one rotation per image: both values see the same images per step
            Measured(
                "Agrees: 4 angles 26.0% vs 2 angles 16.2% linear probe, 264 steps each (random init 20.0%, 500 test "
                "images)",
                ON_SHAPES,
            ),
        ),
        Preset(
            "simclr_colour",
            "SimCLR without colour distortion",
            "simclr",
            "color_strength",
            (0.0, 0.5, 1.0),
            "Crops alone are matched by colour histograms; adding colour distortion raised linear evaluation "
            "sharply, and stronger colour distortion helped further.",
            "Chen, Kornblith, Norouzi & Hinton. A Simple Framework for Contrastive Learning of Visual "
            "Representations. ICML 2020 (Fig. 5, Table 1).",
            {"grayscale_p": 0.0},
            Measured(
                "Agrees on the shortcut: colour strength 0 solves the puzzle (0.98) with features below random init "
                "(11.2% vs 20.0%); strength 1 gives 19.8%, no gain yet at this budget (131 steps each; 0.5 not "
                "measured)",
                ON_SHAPES,
            ),
        ),
        Preset(
            "simclr_crop",
            "SimCLR: how small the crops are",
            "simclr",
            "crop_min",
            (0.08, 0.3, 0.6, 1.0),
            "Random cropping is the single most important augmentation: with no cropping (scale 1) the task "
            "is far too easy.",
            "Chen, Kornblith, Norouzi & Hinton. A Simple Framework for Contrastive Learning of Visual "
            "Representations. ICML 2020.",
        ),
        Preset(
            "masked_ratio",
            "Masked image modelling: how much to hide",
            "masked_image",
            "mask_ratio",
            (0.25, 0.5, 0.75, 0.9),
            "A high mask ratio (75%) worked best: hiding little leaves a task solvable by interpolating "
            "neighbouring pixels.",
            "He, Chen, Xie, Li, Dollár & Girshick. Masked Autoencoders Are Scalable Vision Learners. CVPR 2022.",
            {"norm_pix": False},
            Measured(
                "Not decided at our budget: ratios 0.25 and 0.9 both stay at random init (21.2%, 20.6% vs 20.0%) "
                "after 96 steps each; 0.9 keeps less colour in the features (0.5 and 0.75 not measured). Measured on "
                "raw-pixel targets, the default then, which this preset therefore keeps",
                ON_SHAPES,
            ),
        ),
        Preset(
            "mlm_rate",
            "Masked language modelling: mask rate",
            "masked_language",
            "mask_rate",
            (0.05, 0.15, 0.3, 0.4),
            "15% is not a law: for large models 40% masking matched or beat 15%.",
            "Wettig, Gao, Zhong & Chen. Should You Mask 15% in Masked Language Modeling? EACL 2023.",
        ),
    )
}


def preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}") from None


# ------------------------------------------------------------------------------------------------ reading
def pretext_score(config: dict, metric: float | None) -> float | None:
    """The pretext metric of a run with this config on the common scale of Results (0 = chance, 1 = solved;
    PSNR 10 -> 40 dB): ``sslcore.context.pretext_scale``, custom designs included."""
    return pretext_scale(config.get("task"), metric, config.get("params") or {}, int(config.get("batch_size") or 256))


def sweep_knob(runs) -> str | None:
    """The one knob in which the trained runs of a group differ (None if they are not a sweep)."""
    trained = [r for r in runs if r.task not in (RANDOM_INIT, SUPERVISED)]
    if len(trained) < 2 or len({r.task for r in trained}) != 1:
        return None
    keys = set().union(*(r.config.get("params", {}) for r in trained))
    varying = [k for k in keys if len({repr(r.config.get("params", {}).get(k)) for r in trained}) > 1]
    return varying[0] if len(varying) == 1 else None


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def sweep_points(runs, knob: str) -> list[dict]:
    """One point per knob value (medians over seeds): pretext score, probe, kNN, factor scores, steps."""
    by_value: dict = {}
    for r in runs:
        if r.task in (RANDOM_INIT, SUPERVISED) or not r.results:
            continue
        by_value.setdefault(r.config["params"][knob], []).append(r)
    points = []
    for value in sorted(by_value, key=lambda v: (isinstance(v, str), v)):
        group = by_value[value]
        factors = [(r.results.get("factors") or {}).get("factors", {}) for r in group]
        names = sorted(set().union(*factors))
        points.append(
            {
                "value": value,
                "runs": len(group),
                "pretext_metric": _median(r.results.get("pretext_metric") for r in group),
                "pretext_score": _median(pretext_score(r.config, r.results.get("pretext_metric")) for r in group),
                "metric_label": group[0].results.get("metric_label"),
                "linear_probe": _median(r.results["linear_probe"] for r in group),
                "knn": _median(r.results["knn"] for r in group),
                "baseline_probe": _median(r.results["baseline"]["linear_probe"] for r in group),
                "factors": {n: _median(f.get(n, {}).get("score") for f in factors) for n in names},
                "steps": _median(r.results.get("steps") for r in group),
                "test_size": _median(r.results.get("test_size") for r in group),
            }
        )
    return points


def steps_words(points: list[dict], knob: str) -> str:
    """What the runs trained for, each its own: "264 steps per run", or where equal compute bought different
    steps "6 steps at angles=2, 12 at angles=4"."""
    steps = [p["steps"] for p in points]
    if any(s is None for s in steps):
        return "an equal budget per run"
    if len({round(s) for s in steps}) == 1:
        return f"{steps[0]:.0f} steps per run"
    first, *rest = points
    return ", ".join(
        [f"{first['steps']:.0f} steps at {knob}={first['value']}"]
        + [f"{p['steps']:.0f} at {knob}={p['value']}" for p in rest]
    )


def reading(points: list[dict], knob: str) -> str:
    """Two sentences a person can act on: where the features are best, and how the puzzle's difficulty relates.
    Every number says the steps its own run took (equal compute buys a cheaper step more steps)."""
    if len(points) < 2:
        return "A sweep needs at least two finished values to be read."
    best = max(points, key=lambda p: p["linear_probe"])
    worst = min(points, key=lambda p: p["linear_probe"])
    steps = steps_words(points, knob)
    spread = 100 * (best["linear_probe"] - worst["linear_probe"])
    if best["linear_probe"] < best["baseline_probe"] + LEARNED:
        first = (
            f"No value of {knob} beats random init yet (linear probe at best {100 * best['linear_probe']:.1f}% at "
            f"{knob}={best['value']} vs {100 * best['baseline_probe']:.1f}%, after {steps}): the network has "
            "not learned enough for the knob to matter, so give every run more compute."
        )
    elif spread < 100 * LEARNED:
        first = (
            f"The linear probe hardly moves with {knob} ({100 * worst['linear_probe']:.1f}–{100 * best['linear_probe']:.1f}%, "
            f"after {steps}): at this budget the knob does not decide what is learned."
        )
    else:
        first = (
            f"The features are most useful at {knob}={best['value']} (linear probe {100 * best['linear_probe']:.1f}%, "
            f"random init {100 * best['baseline_probe']:.1f}%) and least at {knob}={worst['value']} "
            f"({100 * worst['linear_probe']:.1f}%), after {steps}."
        )
    scored = [p for p in points if p["pretext_score"] is not None]
    if len(scored) < 2:
        second = "This task's pretext metric has no chance level, so compare its curve by shape only."
    else:
        easiest = max(scored, key=lambda p: p["pretext_score"])
        if easiest["pretext_score"] < LEARNED * 5:
            second = (
                f"The puzzle itself is barely solved at any value (at best {100 * easiest['pretext_score']:.0f}% of the way "
                "from chance to perfect), so no shortcut can show yet."
            )
        elif max(p["pretext_score"] for p in scored) - min(p["pretext_score"] for p in scored) < 2.5 * LEARNED:
            second = (
                f"The puzzle is solved about equally at every value ({100 * min(p['pretext_score'] for p in scored):.0f}–"
                f"{100 * easiest['pretext_score']:.0f}% of the way from chance to perfect), so the difference comes from "
                f"what {knob} changes in the inputs, not from how hard the puzzle is."
            )
        elif easiest["value"] != best["value"] and easiest["linear_probe"] < best["linear_probe"] - LEARNED:
            second = (
                f"The puzzle is solved best at {knob}={easiest['value']} ({100 * easiest['pretext_score']:.0f}% of the way "
                f"from chance to perfect) where the features are worse: there it is easy enough to be solved by a shortcut."
            )
        else:
            second = (
                f"The puzzle is solved best where the features are best too ({knob}={easiest['value']}, "
                f"{100 * easiest['pretext_score']:.0f}% of the way from chance to perfect): over this range, no shortcut shows."
            )
    return f"{first} {second}"
