"""Helpers the unit tests import by name (a conftest cannot be imported by name: tests/e2e has its own)."""

import torch


def gen(seed: int = 0) -> torch.Generator:
    """A seeded CPU generator, so a test's random draw is the same on every run."""
    return torch.Generator().manual_seed(seed)
