"""Plans: the runs a front end asks for, defined once so Home, Train and the command line queue the same.

The quick comparison is the first thing a newcomer runs, so it must answer fast and teach the right
thing. Its choices, and why (each measured: docs/benchmarks.md, "The quick comparison"):

- **Tasks**: jigsaw, relative position and SimCLR: two ways of learning from how an image's parts are
  arranged, and one from contrasting views; each beat random init at this compute on seeds 0, 1 and 2 by
  more than its seed spread (docs/benchmarks.md). SimCLR trains at batch 64: at 256 the budget buys 16
  steps and its margin over random init was within the test set's noise on seed 1. Rotation is left out:
  at this compute it did not beat random init with any setting tried (one or four rotations per image,
  batch 64 to 256: 8-18% against 16-20%); it needs several times the compute (Train).
- **Compute**: the same FLOPs for every run (a busy machine changes how long it takes, not what it
  learns), sized so the whole comparison ends in about two minutes on a 2-core laptop CPU with bf16.
- **Probes during training**: four points, enough for a curve (each one is a forward pass over 1,500
  images that the budget does not charge, but the person waits for).
- **Few labels**: every pretext run is then fine-tuned on ``QUICK_LABELS`` labels per class with the one
  recipe of ``sslcore.finetune``, and the same network is trained from scratch on the same labels.
"""

from __future__ import annotations

from sslcore.finetune import finetune_configs
from sslcore.kinds import SUPERVISED
from sslcore.tasks import TASKS
from sslcore.train import TrainConfig

QUICK_TASKS: dict[str, dict] = {"jigsaw": {}, "relative_position": {}, "simclr": {"batch_size": 64}}  # task: settings
QUICK_COMPUTE = 0.75e12  # FLOPs per run
QUICK_MAX_SECONDS = 600.0  # the safety cap: far above what the quick runs need even on a busy small CPU
QUICK_PROBE_POINTS = 4
QUICK_LABELS = 10  # its few-label view: each task fine-tuned on 10 labels per class, and supervised from scratch


def quick_runs(seed: int = 0) -> list[TrainConfig]:
    """The quick comparison's runs: each task and the supervised reference (the store adds random init)."""
    return [
        TrainConfig(
            task=task,
            **settings,
            compute=QUICK_COMPUTE,
            max_seconds=QUICK_MAX_SECONDS,
            probe_points=QUICK_PROBE_POINTS,
            seed=seed,
        ).validate()
        for task, settings in [*QUICK_TASKS.items(), (SUPERVISED, {})]
    ]


def quick_finetunes(runs: list[TrainConfig], ids: list[str]) -> list[TrainConfig]:
    """The fine-tune of each pretext run of ``quick_runs`` (``ids``: their run ids, in the same order), then
    supervised from scratch on the same labels: one recipe, ``QUICK_LABELS`` labels per class."""
    sources = [(c.to_dict(), run_id) for c, run_id in zip(runs, ids) if c.task in QUICK_TASKS]
    return finetune_configs(sources, runs[0].to_dict(), QUICK_LABELS, max_seconds=QUICK_MAX_SECONDS)


def quick_words() -> str:
    """What the Home button queues, in words."""
    return (
        f"{', '.join(TASKS[name].title for name in QUICK_TASKS)} and supervised at equal compute, each fine-tuned on {QUICK_LABELS} labels per "
        "class against training from scratch"
    )
