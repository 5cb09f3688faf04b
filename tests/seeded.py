"""Helpers the unit tests import by name (a conftest cannot be imported by name: tests/e2e has its own)."""

import torch


def gen(seed: int = 0) -> torch.Generator:
    """A seeded CPU generator, so a test's random draw is the same on every run."""
    return torch.Generator().manual_seed(seed)


def small_quick_comparison(store, owner: str = "ada", k: int = 2):
    """Home's quick comparison (sslcore.plans: its tasks and the supervised reference, the random-init baseline
    the store adds, each pretext run fine-tuned on ``k`` labels per class and supervised from scratch on them)
    at a size that trains in seconds; queued and run to the end by a real worker. Returns the group id."""
    import dataclasses

    from sslcore.finetune import finetune_configs
    from sslcore.plans import QUICK_TASKS, quick_runs
    from sslcore.runs import Worker

    tiny = dict(compute=None, epochs=0.5, n=160, batch_size=32, probe_points=2, probe_size=20)
    runs = [dataclasses.replace(c, **tiny).validate() for c in quick_runs()]
    group, ids = store.submit_group(runs, owner=owner)
    sources = [(c.to_dict(), run_id) for c, run_id in zip(runs, ids) if c.task in QUICK_TASKS]
    tuned = finetune_configs(sources, runs[0].to_dict(), k, epochs=2)
    for config in tuned:
        store.submit(config, group, owner=owner)
    Worker(store).run(max_runs=len(runs) + 1 + len(tuned))
    failed = [(r.task, r.error) for r in store.list(group_id=group) if r.status != "succeeded"]
    assert not failed, failed
    return group
