"""Optional compilation of the per-step tensor maths with ``torch.compile``.

The task's per-step work (reading the simulator's state, observations, PD targets) is a few hundred small tensor
operations; on a CPU their per-operation overhead costs about a quarter of the physics time at 1024 environments.
``torch.compile`` fuses them into a few loops (about 4x faster) at the price of a compile on first use (10-60 s, cached
on disk afterwards) and a C++ compiler on the machine. It is off by default (``task.sim.mujoco.compile_kernels``);
when compilation fails the eager function is used, with one warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any


class Kernel:
    """``function``, compiled on first call when ``enabled``, eager otherwise or on failure. The batch dimension is
    dynamic, so full-batch steps and partial resets share one compiled graph."""

    def __init__(self, function: Callable[..., Any], enabled: bool) -> None:
        self.function = function
        self.enabled = enabled
        self._compiled: Callable[..., Any] | None = None

    def __call__(self, *args: Any) -> Any:
        if not self.enabled:
            return self.function(*args)
        if self._compiled is None:
            import torch

            self._compiled = torch.compile(self.function, dynamic=True)
        try:
            return self._compiled(*args)
        except Exception as error:
            warnings.warn(
                f"torch.compile failed for {self.function.__name__} ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}); running it uncompiled",
                stacklevel=2,
            )
            self.enabled = False
            return self.function(*args)
