"""Timing helpers shared by the benchmarks: medians of repeated calls, the machine's description, and the share of
CPU time a virtual machine's host took away during a measurement."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

import torch


def median_seconds(function: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median wall time (s) of ``repeats`` calls of ``function`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def machine_description() -> str:
    """One line: CPU model, cores visible to this process, torch threads, Python and torch versions."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{model}; {cores} cores; torch {torch.__version__} with {torch.get_num_threads()} threads; "
        f"Python {platform.python_version()}"
    )


def _cpu_times() -> list[int] | None:
    """The machine's cumulative CPU times (``/proc/stat``'s ``cpu`` line, in ticks: user .. steal and after), None
    where there is no such line or it stops before ``steal``."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    return [int(value) for value in fields[1:]]


def steal_reported() -> bool:
    """Whether this machine reports stolen CPU time (Linux's ``/proc/stat``)."""
    return _cpu_times() is not None


class StolenTime:
    """How much CPU time the hypervisor gave to other guests (``steal``) since this was made.

    On a shared virtual machine that share swings within minutes, and every figure measured while it is high comes out
    slower; the benchmarks print it beside their results so that runs can be compared fairly.
    """

    def __init__(self) -> None:
        self._start = _cpu_times()

    def share(self) -> float | None:
        """Stolen ticks over all ticks since construction (0..1), None where the kernel does not report it."""
        end = _cpu_times()
        if self._start is None or end is None:
            return None
        elapsed = [after - before for before, after in zip(self._start, end, strict=False)]
        total = sum(elapsed[:8])  # user .. steal; guest time is already counted in user
        return elapsed[7] / total if total > 0 else None

    def column(self) -> str:
        """The share as a table cell (`` 12%``; empty where not reported)."""
        share = self.share()
        return "" if share is None else f" {share:>5.0%}"

    def note(self) -> str:
        """One line for a benchmark's output (empty where not reported)."""
        share = self.share()
        if share is None:
            return ""
        return f"the virtual machine's host took {100 * share:.0f}% of the CPU time meanwhile (steal)"
