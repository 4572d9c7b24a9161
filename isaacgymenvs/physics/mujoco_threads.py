"""Threads for the C MuJoCo backend: how many to step with, and stepping beside the caller's own work.

``mujoco.batch`` steps its simulations on a thread pool that includes the calling thread and releases the GIL. Called
from a worker thread instead, it leaves the caller free during the physics; :class:`BatchStepper` runs a callback
there (the task prepares the next resets' starting states) and then waits for the step. On two cores the caller's
work then fills the gaps the stepping threads leave (uneven simulations finish at different times) instead of running
after them. The callback runs with torch on one thread: a second torch (OpenMP) thread would spin on a core the physics
needs, which made the two together slower than one after the other when measured.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait

import torch


def available_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_thread_count() -> int:
    """Threads to step with when none are asked for: every core this process may use, shared evenly among the
    processes a torchrun group starts on this machine (``LOCAL_WORLD_SIZE``), so that ranks do not oversubscribe."""
    processes_here = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, available_cores() // processes_here)


@contextlib.contextmanager
def single_torch_thread() -> Iterator[None]:
    """torch on one thread for the duration (restored after)."""
    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads > 1:
            torch.set_num_threads(threads)


class BatchStepper:
    """Runs ``step()`` (a ``mujoco.batch`` call) on a worker thread while the caller runs its own work."""

    def __init__(self) -> None:
        self._worker: ThreadPoolExecutor | None = None  # made on first use

    def run(self, step: Callable[[], None], while_stepping: Callable[[], None]) -> None:
        """``step()`` on the worker and ``while_stepping()`` here, on one torch thread; returns when both are done.
        The step's exception, if any, is raised here after both finished; the callback's, if any, takes precedence.
        ``while_stepping`` must not touch the state the step writes."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mujoco-step")
        physics = self._worker.submit(step)
        try:
            with single_torch_thread():
                while_stepping()
        finally:
            wait([physics])
        physics.result()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None
