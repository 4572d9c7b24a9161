"""Starting states prepared ahead of the resets that use them, so that a reset only writes rows.

A reset draws a starting state (a clip and a time, or the default pose), asks the motion library for it and for the
AMP history before it, converts it to the engine's coordinates and computes the observation at it: a few thousand
small tensor operations whose cost hardly depends on how many environments reset. None of it depends on which
environment will start there, so the task prepares batches of such states while the physics steps (on the C backend
that is the caller's thread, idle otherwise; ``PhysicsBackend.simulate``'s ``while_stepping``) and a reset takes the
oldest prepared ones. Every prepared state is an independent draw from the same distribution as before, so the
starting states are distributed exactly as when drawn at the reset; only the order of the random draws differs.

The pool keeps a few steps' worth of states: it tracks the mean number of resets per step and, when fewer than about
two steps' worth are left, prepares about eight steps' worth at once (one batch costs little more than a small one). A
reset that finds too few prepares the rest on the spot. These decisions depend on counts only, never on how long the
physics takes, so the random draws, and a seeded run, are the same every time. A reset of every environment at once
(the start of training or of an evaluation) starts the pool afresh and draws on the spot, so that reseeding before it
gives the same starting states whatever ran before.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

# Refill when fewer than LOW_STEPS steps' worth of states are left; refill up to HIGH_STEPS steps' worth plus MIN_ROWS.
LOW_STEPS = 2.0
HIGH_STEPS = 8.0
MIN_ROWS = 16
# Weight of the newest step in the running mean of resets per step.
RATE_WEIGHT = 0.1


class ResetPool:
    """Prepared starting states, taken oldest first.

    Args:
        prepare: ``prepare(count)`` makes ``count`` independent starting states: tensors with a leading ``[count]``
            dimension, by name.
        capacity: the most states one refill prepares (the number of environments).
    """

    def __init__(self, prepare: Callable[[int], dict[str, torch.Tensor]], capacity: int) -> None:
        self._prepare = prepare
        self.capacity = capacity
        self._rows: dict[str, torch.Tensor] = {}
        self._size = 0
        self._taken_since_refill = 0
        #: Running mean of the states taken per step (full resets of every environment left out).
        self.rate = 0.0

    def __len__(self) -> int:
        return self._size

    def take(self, count: int) -> dict[str, torch.Tensor]:
        """The ``count`` oldest states (``[count]`` rows by name); those missing are prepared now."""
        if count > self._size:
            self._append(self._prepare(count - self._size))
        taken = {name: rows[:count] for name, rows in self._rows.items()}
        self._rows = {name: rows[count:] for name, rows in self._rows.items()}
        self._size -= count
        if count < self.capacity:  # the first reset of every environment says nothing about the rate
            self._taken_since_refill += count
        return taken

    def refill(self) -> None:
        """Called once per step: update the rate, and prepare a batch when the pool runs low."""
        self.rate += RATE_WEIGHT * (self._taken_since_refill - self.rate)
        self._taken_since_refill = 0
        if self._size < math.ceil(LOW_STEPS * self.rate) + 1:
            target = min(self.capacity, math.ceil(HIGH_STEPS * self.rate) + MIN_ROWS)
            if target > self._size:
                self._append(self._prepare(target - self._size))

    def clear(self) -> None:
        """Start afresh: drop every prepared state and the rate (the next resets draw theirs on the spot)."""
        self._rows, self._size = {}, 0
        self._taken_since_refill, self.rate = 0, 0.0

    def _append(self, rows: dict[str, torch.Tensor]) -> None:
        """Add ``rows`` (the same names as the pool's) after the pool's."""
        if self._size == 0:
            self._rows = rows
        else:
            self._rows = {name: torch.cat([self._rows[name], more]) for name, more in rows.items()}
        self._size += len(next(iter(rows.values())))
