"""Everything the GPU path promises, checked and measured in one command (about 5 minutes on a CUDA GPU).

    python benchmarks/gpu.py                 # on a CUDA machine
    python benchmarks/gpu.py --smoke         # every section at toy sizes on the CPU: checks this script

1. bf16 autocast: a ResNet-18 forward under autocast gives bf16 activations, and a training step's loss
   matches float32 within bf16 precision.
2. Seeded batches: every image task's ``make_batch`` with the same seed on the CPU and on the GPU.
3. For every task and both image backbones: images/s of the real training step (``train_step``, no sync
   per step, timed with device events), share of the step spent making the batch, peak memory, and how
   often a step makes the host wait for the GPU (torch's sync debug mode; the target is 0).
4. A SimCLR epoch of 50,000 32×32 images on the ResNet-18, through ``Trainer`` (target ≤ 3 s).
5. The quick comparison at its fixed compute: steps and probe accuracies.
6. Several short runs sharing the GPU: the worker's ``--concurrency N``, runs per minute for N = 1, 2, 4.
"""

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine  # noqa: E402
from sslcore.data import ImageDataset, load_dataset  # noqa: E402
from sslcore.experiment import run_experiment  # noqa: E402
from sslcore.models import make_backbone  # noqa: E402
from sslcore.plans import QUICK_COMPUTE, QUICK_TASKS  # noqa: E402
from sslcore.tasks import TASKS, get_task  # noqa: E402
from sslcore.tasks.supervised import Supervised  # noqa: E402
from sslcore.train import SUPERVISED, TrainConfig, Trainer, train_step  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int, device: torch.device) -> float:
    """Seconds per call of ``fn``, ``repeats`` calls queued back to back, read once (device events on CUDA)."""
    fn()  # warm-up (cuDNN autotuning, allocator)
    if device.type == "cuda":
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000 / repeats
    tick = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - tick) / repeats


def syncs_per_step(fn, device, steps: int = 3) -> float:
    """How often ``fn`` makes the host wait for the GPU (torch's sync debug mode warns at each wait)."""
    if device.type != "cuda":
        return float("nan")
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(steps):
                fn()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return len(caught) / steps


def autocast_for(device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()


def check_bf16(device, images) -> str:
    if device.type != "cuda":
        return "bf16 autocast: skipped (CPU training runs in float32)"
    torch.manual_seed(0)
    backbone = make_backbone("resnet18").to(device, memory_format=torch.channels_last)
    task = get_task("rotation")
    head = task.head(backbone, images.shape[-1]).to(device)
    batch = task.prepare(images.to(device), torch.Generator().manual_seed(0))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        maps = backbone.forward_map(batch.inputs)
        low, _ = task.loss(head(maps.mean(dim=(2, 3))), batch)
    full, _ = task.loss(task.forward(backbone, head, batch), batch)
    ok = maps.dtype == torch.bfloat16 and torch.isfinite(low) and abs(low.item() - full.item()) < 0.05 * abs(full.item())
    return f"bf16 autocast: activations {maps.dtype}, loss {low.item():.4f} vs float32 {full.item():.4f}: {'OK' if ok else 'FAILED'}"


def check_same_batch(device, images) -> list[str]:
    lines = []
    for name, cls in TASKS.items():
        if cls.modality != "image":
            continue
        task = get_task(name)
        cpu = task.prepare(images, torch.Generator().manual_seed(7))
        gpu = task.prepare(images.to(device), torch.Generator().manual_seed(7))
        diff = (cpu.inputs.float() - gpu.inputs.float().cpu()).abs().max().item()
        same_targets = cpu.targets is None or torch.equal(cpu.targets.cpu(), gpu.targets.cpu())
        lines.append(f"| {name} | {diff:.2e} | {'yes' if same_targets else 'NO'} |")
    return lines


def step_figures(task, backbone_name, images, labels, device, repeats) -> tuple[float, float, float, float]:
    """(images/s, share of the step making the batch, peak MiB, device syncs per step) of ``task``'s step."""
    torch.manual_seed(0)
    backbone = make_backbone(backbone_name).to(device, memory_format=torch.channels_last)
    head = task.head(backbone, images.shape[-1]).to(device)
    optimizer = torch.optim.AdamW([*backbone.parameters(), *head.parameters()], lr=1e-3)
    gen, autocast = torch.Generator().manual_seed(0), autocast_for(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    def step():
        train_step(task, backbone, head, optimizer, images, labels, gen, autocast, False)

    syncs = syncs_per_step(step, device)
    seconds = timed(step, repeats, device)
    make = timed(lambda: task.prepare(images, gen), repeats, device)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    return len(images) / seconds, make / seconds, peak, syncs


def simclr_epoch(device, n: int, backbone: str) -> tuple[float, int]:
    gen = torch.Generator().manual_seed(0)
    data = ImageDataset(
        "random", torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen), torch.arange(n) % 10,
        [str(i) for i in range(10)],
    )  # fmt: skip
    config = TrainConfig(
        task="simclr", dataset="shapes", backbone=backbone, epochs=1, batch_size=512, device=device.type,
        test_fraction=0.05, probe_points=0, probe_size=10,
    )  # fmt: skip
    trainer = Trainer(config, data)
    for _ in trainer.events():
        pass
    return trainer.train_seconds, trainer.steps * trainer.batch_size


def concurrency(device, runs: int, compute: float, levels) -> list[str]:
    lines = []
    for level in levels:
        with tempfile.TemporaryDirectory() as data_dir:
            env = {**os.environ, "PRETEXT_LAB_DATA_DIR": data_dir, "PYTHONPATH": str(ROOT)}
            from sslcore.runs import RunStore

            store = RunStore(data_dir)
            for i in range(runs):
                store.submit(TrainConfig(task=list(QUICK_TASKS)[i % len(QUICK_TASKS)], compute=compute, seed=i, n=1000))
            tick = time.perf_counter()
            worker = subprocess.Popen(
                [sys.executable, "-m", "sslcore", "worker", "--device", device.type, "--concurrency", str(level),
                 "--idle-exit", "3", "--data-dir", data_dir],
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            while not all(r.done for r in store.list()):
                time.sleep(0.5)
            wall = time.perf_counter() - tick
            worker.wait()
            ok = sum(r.status == "succeeded" for r in store.list())
            lines.append(f"| {level} | {runs} | {ok} | {wall:.0f} | {60 * runs / wall:.1f} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="toy sizes on the CPU: checks the script, measures nothing")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available() and not args.smoke:
        print("benchmarks/gpu.py needs a CUDA GPU (none is visible here); --smoke runs its logic on the CPU.")
        return 2
    device = torch.device("cpu" if args.smoke else "cuda")
    batch, repeats = (16, 2) if args.smoke else (args.batch, args.repeats)
    started = time.perf_counter()
    print(f"Machine: {machine()}; device {device}{' (smoke run: toy sizes, figures mean nothing)' if args.smoke else ''}\n")
    data = load_dataset("shapes", n=max(batch, 64), size=32, seed=0)
    images, labels = data.images[:batch], data.labels[:batch]

    print("## 1. " + check_bf16(device, images) + "\n")
    print("## 2. Same seed, same batch on the CPU and the device\n\n| task | max abs difference of inputs | same targets |")
    print("|---|---:|---|")
    print("\n".join(check_same_batch(device, images[:8])) + "\n")

    print(f"## 3. Training step, {batch} source images of 32×32, {repeats} steps queued back to back\n")
    print("| task | backbone | img/s | making the batch | peak memory (MiB) | device syncs per step |")
    print("|---|---|---:|---:|---:|---:|")
    gpu_images, gpu_labels = images.to(device), labels.to(device)
    tasks = [get_task(n) for n, c in TASKS.items() if c.modality == "image"] + [Supervised(num_classes=len(data.class_names))]
    tasks = tasks[:2] if args.smoke else tasks
    for backbone in ("small_cnn",) if args.smoke else ("small_cnn", "resnet18"):
        for task in tasks:
            speed, share, peak, syncs = step_figures(task, backbone, gpu_images, gpu_labels, device, repeats)
            print(f"| {task.name} | {backbone} | {speed:,.0f} | {100 * share:.0f}% | {peak:,.0f} | {syncs:g} |")

    n = 256 if args.smoke else 50_000
    seconds, seen = simclr_epoch(device, n, "small_cnn" if args.smoke else "resnet18")
    print(f"\n## 4. SimCLR epoch on the ResNet-18: {seen:,} images in {seconds:.2f} s ({seen / seconds:,.0f} img/s; target ≤ 3 s for 50,000)\n")

    compute = 2e9 if args.smoke else QUICK_COMPUTE
    print(f"## 5. Quick comparison at {compute:.3g} FLOPs per run\n\n| run | steps | linear probe | kNN | train s |\n|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as data_dir:
        for task in [*QUICK_TASKS, SUPERVISED]:
            config = TrainConfig(task=task, compute=compute, device=device.type, n=200 if args.smoke else None)
            r = run_experiment(config, data_dir=data_dir, embed="pca")
            print(f"| {task} | {r['steps']} | {100 * r['linear_probe']:.1f}% | {100 * r['knn']:.1f}% | {r['wall_s']:.1f} |")
        print(f"| random init | 0 | {100 * r['baseline']['linear_probe']:.1f}% | {100 * r['baseline']['knn']:.1f}% | — |")

    levels = (1, 2) if args.smoke else (1, 2, 4)
    print("\n## 6. Short runs sharing one device: `worker --concurrency N`\n")
    print("| N | runs | succeeded | wall s | runs per minute |\n|---:|---:|---:|---:|---:|")
    print("\n".join(concurrency(device, 2 if args.smoke else 8, 2e9 if args.smoke else 3e11, levels)))
    print(f"\nTotal: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
