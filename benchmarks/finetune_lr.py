"""The fine-tune recipe's rates, measured: backbone learning-rate scale, BatchNorm, and scratch's own rate.

    python benchmarks/finetune_lr.py [--n 1200] [--source-epochs 5] [--scales 0,0.01,0.03,0.1,0.3]
                                     [--scratch-lrs 1e-3,3e-3,1e-2] [--ks 10,all] [--draws 2]

Trains jigsaw and SimCLR sources on shapes for a small number of epochs, then fine-tunes each with the recipe
of sslcore/finetune.py (LP-FT head, its length rule) at every backbone scale (the backbone's rate is
HEAD_LR x scale; 0 trains the head alone from the probe), at k labels per class, on the label curve's draws
0..draws-1. Each cell: median fine-tune test accuracy over the draws, beside the frozen probe on the same
draws. Also BatchNorm frozen vs trained at the chosen scale, and supervised from scratch (random init,
random head, BatchNorm trained, one rate for the whole network) at each rate of --scratch-lrs.
Prints Markdown for docs/benchmarks.md.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import machine, pct  # noqa: E402
from sslcore import finetune  # noqa: E402
from sslcore.evaluate import extract_features  # noqa: E402
from sslcore.fewlabel import parse_labels_per_class  # noqa: E402
from sslcore.finetune import finetune_config  # noqa: E402
from sslcore.train import TrainConfig, Trainer, load_run_data  # noqa: E402


def tuned_accuracy(config, data, state, draw) -> tuple[float, float | None, int]:
    """(fine-tuned test accuracy, frozen probe accuracy on the same draw or None, steps) of one draw."""
    trainer = Trainer(config, data, init_state=state, draw=draw)
    list(trainer.events())
    feats = extract_features(trainer.backbone, data.inputs[trainer.test_idx])
    with torch.no_grad():
        acc = float((trainer.head.eval()(feats).argmax(1) == data.labels[trainer.test_idx]).float().mean())
    return acc, trainer.start_probe["accuracy"] if trainer.start_probe else None, trainer.steps


def cell(config, data, state, draws) -> dict:
    runs = [tuned_accuracy(config, data, state, d) for d in range(draws)]
    tuned = [r[0] for r in runs]
    probes = [r[1] for r in runs if r[1] is not None]
    return {
        "tuned": statistics.median(tuned),
        "low": min(tuned),
        "high": max(tuned),
        "probe": statistics.median(probes) if probes else None,
        "steps": runs[0][2],
    }


def fmt(c) -> str:
    return f"{pct(c['tuned'])} ({100 * c['low']:.1f}–{100 * c['high']:.1f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1200)
    parser.add_argument("--sources", default="jigsaw,simclr")
    parser.add_argument("--source-epochs", type=float, default=5.0)
    parser.add_argument("--scales", default="0,0.01,0.03,0.1,0.3")
    parser.add_argument("--scratch-lrs", default="1e-3,3e-3,1e-2")
    parser.add_argument("--ks", default="10,all")
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    ks = [parse_labels_per_class(k) for k in args.ks.split(",")]
    scales = [float(s) for s in args.scales.split(",")]
    base = TrainConfig(dataset="shapes", n=args.n, device="cpu", seed=args.seed, epochs=args.source_epochs, probe_points=0)
    data = load_run_data(base)
    tick = time.perf_counter()
    print(f"Machine: {machine()}; shapes n={args.n}, seed {args.seed}, draws 0..{args.draws - 1}; "
          f"sources {args.source_epochs:g} epochs; fine-tunes: {finetune.EPOCHS:g} epochs capped at {finetune.MAX_STEPS} steps, "
          f"head lr {finetune.HEAD_LR:g}")
    table = {}
    for name in args.sources.split(","):
        source = TrainConfig(**{**base.to_dict(), "task": name})
        trainer = Trainer(source, data)
        list(trainer.events())
        state = trainer.backbone.state_dict()
        for k in ks:
            for scale in scales:
                config = finetune_config(source.to_dict(), "0" * 12, k, draws=1)
                config.backbone_lr_scale = scale
                table[(name, k, scale)] = c = cell(config.validate(), data, state, args.draws)
                print(f"  {name} k={k or 'all'} scale={scale:g}: {fmt(c)} probe {pct(c['probe'])} [{time.perf_counter() - tick:.0f} s]", file=sys.stderr)
            best = max(scales, key=lambda s: table[(name, k, s)]["tuned"])
            config = finetune_config(source.to_dict(), "0" * 12, k, draws=1)
            config.backbone_lr_scale = finetune.BACKBONE_LR_SCALE
            config.freeze_bn = not config.freeze_bn
            table[(name, k, "bn")] = c = cell(config.validate(), data, state, args.draws)
            print(f"  {name} k={k or 'all'} best scale {best:g}; BN {'frozen' if config.freeze_bn else 'trained'} "
                  f"at {finetune.BACKBONE_LR_SCALE:g}: {fmt(c)}", file=sys.stderr)
    scratch_lrs = [float(v) for v in args.scratch_lrs.split(",")]
    for k in ks:
        for lr in scratch_lrs:
            config = finetune_config(base.to_dict(), None, k, draws=1)
            config.lr = lr
            table[("scratch", k, lr)] = c = cell(config.validate(), data, None, args.draws)
            print(f"  scratch k={k or 'all'} lr={lr:g}: {fmt(c)} [{time.perf_counter() - tick:.0f} s]", file=sys.stderr)

    print("\nFine-tune test accuracy %, median over the draws (lowest–highest), by backbone lr scale (× head lr "
          f"{finetune.HEAD_LR:g}); frozen probe on the same draws for reference:\n")
    print("| source | k | steps | probe | " + " | ".join(f"scale {s:g}" for s in scales) + " | BN flipped |")
    print("|---|---|---:|---:|" + "---:|" * (len(scales) + 1))
    for name in args.sources.split(","):
        for k in ks:
            first = table[(name, k, scales[0])]
            cells = " | ".join(fmt(table[(name, k, s)]) for s in scales)
            print(f"| {name} | {k or 'all'} | {first['steps']} | {pct(first['probe'])} | {cells} | {fmt(table[(name, k, 'bn')])} |")
    print("\nSupervised from scratch (random init, whole network at one lr, BatchNorm trained):\n")
    print("| k | steps | " + " | ".join(f"lr {lr:g}" for lr in scratch_lrs) + " |")
    print("|---|---:|" + "---:|" * len(scratch_lrs))
    for k in ks:
        cells = " | ".join(fmt(table[("scratch", k, lr)]) for lr in scratch_lrs)
        print(f"| {k or 'all'} | {table[('scratch', k, scratch_lrs[0])]['steps']} | {cells} |")
    print(f"\nTotal {time.perf_counter() - tick:.0f} s wall.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
