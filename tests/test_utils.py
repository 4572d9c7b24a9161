"""Process-wide torch settings: seeding repeats random draws; flushing denormals zeroes them on CPUs that can."""

from __future__ import annotations

import torch

from isaacgymenvs.utils.utils import flush_denormals, set_seed


def test_set_seed_repeats_draws_and_offsets_by_rank() -> None:
    assert set_seed(7) == 7 and set_seed(7, rank=2) == 9
    set_seed(7)
    first = torch.rand(4)
    set_seed(7)
    assert torch.equal(first, torch.rand(4))


def test_flush_denormals_zeroes_denormal_products() -> None:
    denormal = torch.tensor([1e-39], dtype=torch.float32)
    try:
        if not flush_denormals():  # a CPU without the flag: nothing to check
            assert denormal.item() != 0.0
            return
        assert (denormal * 1.0).item() == 0.0
    finally:
        torch.set_flush_denormal(False)
    assert (torch.tensor([1e-39], dtype=torch.float32) * 1.0).item() != 0.0
