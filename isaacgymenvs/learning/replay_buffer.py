"""``ReplayBuffer``: a fixed-size circular store of named tensors, sampled through a random permutation.

Semantics of the original (spec section 8.3): ``store`` writes at the head and wraps around; ``sample(n)`` takes ``n``
positions of a random permutation of the buffer, advancing through it and drawing a new one when it is used up, so
every stored sample is drawn once before any is drawn twice; before the buffer is full, positions are folded onto the
filled part. Unlike the original, the permutation lives on the buffer's device (no host-to-device copy per sample).
"""

from __future__ import annotations

import torch


class ReplayBuffer:
    """Circular buffer of ``[size, ...]`` tensors keyed by name.

    Args:
        size: capacity (samples).
        device: where the tensors live.
    """

    def __init__(self, size: int, device: torch.device | str) -> None:
        if size <= 0:
            raise ValueError(f"replay buffer size must be positive, got {size}")
        self._size = size
        self._device = torch.device(device)
        self._head = 0
        self._total_count = 0
        self._buffers: dict[str, torch.Tensor] = {}
        self._sample_index = torch.randperm(size, device=self._device)
        self._sample_head = 0

    def __len__(self) -> int:
        """Samples currently held (at most the capacity)."""
        return min(self._total_count, self._size)

    @property
    def size(self) -> int:
        return self._size

    def get_buffer_size(self) -> int:
        return self._size

    def get_total_count(self) -> int:
        """Samples stored since creation (keeps counting past the capacity)."""
        return self._total_count

    def reset(self) -> None:
        self._head = 0
        self._total_count = 0
        self._reset_sample_index()

    def store(self, data: dict[str, torch.Tensor]) -> None:
        """Append ``n`` samples (every tensor ``[n, ...]``, ``n <= size``), overwriting the oldest when full."""
        count = next(iter(data.values())).shape[0]
        if count > self._size:
            raise ValueError(f"cannot store {count} samples in a replay buffer of {self._size}")
        if not self._buffers:
            self._buffers = {
                key: torch.zeros((self._size, *value.shape[1:]), dtype=value.dtype, device=self._device)
                for key, value in data.items()
            }
        first = min(count, self._size - self._head)
        for key, value in data.items():
            value = value.to(self._device)
            self._buffers[key][self._head : self._head + first] = value[:first]
            self._buffers[key][: count - first] = value[first:]
        self._head = (self._head + count) % self._size
        self._total_count += count

    def sample(self, count: int) -> dict[str, torch.Tensor]:
        """``count`` samples ``{name: [count, ...]}`` (with repeats only once every stored one was drawn)."""
        if self._total_count == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        positions = torch.arange(self._sample_head, self._sample_head + count, device=self._device) % self._size
        indices = self._sample_index[positions]
        if self._total_count < self._size:
            indices = indices % self._head
        self._sample_head += count
        if self._sample_head >= self._size:
            self._reset_sample_index()
        return {key: buffer.index_select(0, indices) for key, buffer in self._buffers.items()}

    def peek(self, count: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``count`` stored samples drawn with ``generator``, leaving the sampling order of :meth:`sample` and the
        global random state untouched (for monitoring)."""
        if self._total_count == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        indices = torch.randperm(len(self), generator=generator)[:count].to(self._device)
        return {key: buffer.index_select(0, indices) for key, buffer in self._buffers.items()}

    def _reset_sample_index(self) -> None:
        self._sample_index = torch.randperm(self._size, device=self._device)
        self._sample_head = 0

    def state_dict(self) -> dict[str, object]:
        """Contents and counters (for checkpoints)."""
        return {
            "head": self._head,
            "total_count": self._total_count,
            # clone: a slice would save the whole preallocated storage behind it
            "buffers": {key: value[: len(self)].cpu().clone() for key, value in self._buffers.items()},
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore :meth:`state_dict`'s contents; a buffer saved with another capacity keeps what fits."""
        buffers: dict[str, torch.Tensor] = state["buffers"]
        self._buffers, self._head, self._total_count = {}, 0, 0
        if buffers:
            rows = next(iter(buffers.values())).shape[0]
            kept = min(rows, self._size)
            self._buffers = {
                key: torch.zeros((self._size, *value.shape[1:]), dtype=value.dtype, device=self._device)
                for key, value in buffers.items()
            }
            for key, value in buffers.items():
                self._buffers[key][:kept] = value[:kept].to(self._device)
            if rows == self._size:  # saved full at the same capacity: resume exactly
                self._head, self._total_count = int(state["head"]) % self._size, int(state["total_count"])
            else:
                self._head, self._total_count = kept % self._size, kept
        self._reset_sample_index()
