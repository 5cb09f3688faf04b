import os

import pytest
import torch

# Workers that the app or `submit` start during tests leave soon after the queue empties.
os.environ.setdefault("PRETEXT_LAB_WORKER_IDLE_S", "5")


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """Every test gets its own data directory: no run store or cache is shared with the developer's."""
    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(tmp_path / "pretext-lab"))


@pytest.fixture
def images():
    """A small uint8 batch with structure (not constant) so crops and rotations are distinguishable."""
    gen = torch.Generator().manual_seed(123)
    return (torch.rand(6, 3, 32, 32, generator=gen) * 255).to(torch.uint8)
