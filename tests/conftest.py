import pytest
import torch


@pytest.fixture
def images():
    """A small uint8 batch with structure (not constant) so crops and rotations are distinguishable."""
    gen = torch.Generator().manual_seed(123)
    return (torch.rand(6, 3, 32, 32, generator=gen) * 255).to(torch.uint8)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
