"""ReplayBuffer: wrap-around, permutation sampling, partial fills, checkpoints."""

from __future__ import annotations

import pytest
import torch

from isaacgymenvs.learning.replay_buffer import ReplayBuffer


def _rows(start: int, count: int) -> dict[str, torch.Tensor]:
    values = torch.arange(start, start + count, dtype=torch.float32)
    return {"amp_obs": values.unsqueeze(-1).repeat(1, 3)}


def test_store_wraps_around_and_counts() -> None:
    buffer = ReplayBuffer(10, "cpu")
    buffer.store(_rows(0, 6))
    buffer.store(_rows(6, 6))  # 10, 11 overwrite slots 0, 1
    assert len(buffer) == 10 and buffer.get_total_count() == 12
    stored = sorted(buffer.sample(10)["amp_obs"][:, 0].tolist())
    assert stored == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    with pytest.raises(ValueError):
        buffer.store(_rows(0, 11))


def test_every_sample_drawn_once_before_repeats() -> None:
    buffer = ReplayBuffer(12, "cpu")
    buffer.store(_rows(0, 12))
    first = buffer.sample(6)["amp_obs"][:, 0].tolist() + buffer.sample(6)["amp_obs"][:, 0].tolist()
    assert sorted(first) == list(range(12))


def test_partial_buffer_only_returns_stored_rows() -> None:
    buffer = ReplayBuffer(100, "cpu")
    buffer.store(_rows(0, 7))
    drawn = buffer.sample(50)["amp_obs"][:, 0]
    assert drawn.min() >= 0 and drawn.max() <= 6
    with pytest.raises(RuntimeError):
        ReplayBuffer(4, "cpu").sample(1)


def test_state_dict_round_trip() -> None:
    buffer = ReplayBuffer(8, "cpu")
    buffer.store(_rows(0, 6))
    buffer.store(_rows(6, 5))  # 11 stored, the first 3 overwritten
    copy = ReplayBuffer(8, "cpu")
    copy.load_state_dict(buffer.state_dict())
    assert copy.get_total_count() == 11 and len(copy) == 8
    copy.store(_rows(100, 1))
    buffer.store(_rows(100, 1))  # both overwrite the same (oldest) slot
    assert sorted(copy.sample(8)["amp_obs"][:, 0].tolist()) == sorted(buffer.sample(8)["amp_obs"][:, 0].tolist())
    # A smaller buffer keeps what fits.
    small = ReplayBuffer(4, "cpu")
    small.load_state_dict(buffer.state_dict())
    assert len(small) == 4
