"""Torch's CPU thread count chosen by measurement while training: all cores, or one.

Why: on an idle 2-core machine the default (torch and MuJoCo each on every core; they take turns) is the fastest, but
when another process keeps a core busy, torch's OpenMP threads wait on each other at every operation and a whole epoch
gets 1.6x slower than with one torch thread (``docs/training.md``, "Threads"). Which one wins depends on the machine's
load, which can change during a run. So :class:`ThreadTuner` times one epoch with each count early on (epochs 2 and 3;
the first fills buffers; counted from the start of this process, so resumed runs tune too), keeps the faster, and
checks again every ``recheck_every`` epochs. A count is only switched to when it was at least ``margin`` faster, so
noise does not flip it back and forth.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class ThreadTuner:
    """Chooses torch's intra-op thread count between ``cores`` and 1 by timing epochs.

    Args:
        cores: the larger count (the threads this process may use); 1 turns tuning off.
        recheck_every: epochs between two trials of the other count.
        margin: relative speed-up the other count needs to be chosen.
        set_threads: how to apply a count (``torch.set_num_threads``).
    """

    def __init__(
        self,
        cores: int,
        recheck_every: int = 100,
        margin: float = 0.05,
        set_threads: Callable[[int], None] = torch.set_num_threads,
    ) -> None:
        self.candidates = (cores, 1) if cores > 1 else (1,)
        self.recheck_every = recheck_every
        self.margin = margin
        self._set_threads = set_threads
        self.chosen = cores
        self._trial: int | None = None  # the count being tried this epoch
        self._times: dict[int, float] = {}

    def before_epoch(self, epoch: int) -> int:
        """Set the count for this process's ``epoch``-th epoch (1-based) and return it."""
        self._trial = None
        if len(self.candidates) > 1:
            if epoch in (2, 3):
                self._trial = self.candidates[epoch - 2]
            elif epoch > 3 and (epoch - 3) % self.recheck_every == 0:
                self._trial = next(count for count in self.candidates if count != self.chosen)
        threads = self._trial if self._trial is not None else self.chosen
        self._set_threads(threads)
        return threads

    def after_epoch(self, epoch: int, seconds_per_sample: float) -> str | None:
        """Record the epoch's cost (seconds per sample); after a trial, keep the faster count. A note when the count
        changes, else None."""
        if self._trial is None:
            self._times[self.chosen] = seconds_per_sample
            return None
        self._times[self._trial] = seconds_per_sample
        if epoch == 2:
            return None  # the second candidate is tried next epoch
        other = next(count for count in self.candidates if count != self.chosen)
        measured = other in self._times and self.chosen in self._times
        if measured and self._times[other] < (1.0 - self.margin) * self._times[self.chosen]:
            speedup = self._times[self.chosen] / self._times[other]
            self.chosen, previous = other, self.chosen
            return f"torch threads {previous} -> {other}: {speedup:.2f}x faster epochs under this machine's load"
        return None
