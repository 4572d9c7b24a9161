"""Where the time of one control step of HumanoidAMP goes: ``python -m isaacgymenvs.bench env --profile``.

The task is driven as the learner drives it (``reset_done`` then ``step`` with uniform random actions in [-1, 1]) while
its parts are timed in place: each part is a method of the task, its backend or its motion library, wrapped on the
instance for the duration of the measurement (the code that runs is the real step's). Shares are of the whole
step's wall time; parts are nested as printed (a reset's motion-library query is inside the reset).
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable

import torch

from isaacgymenvs.bench.env import MOTION, bench_task, default_amp_window
from isaacgymenvs.bench.timing import StolenTime, machine_description
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

WARMUP_STEPS = 5
PROFILED_STEPS = 30

# (label, owner attribute path, method): nested by the label's indentation. A method listed twice runs both in
# reset_done (its first label) and in the step (its second).
PARTS = (
    ("reset_done: resets of finished environments", "", "reset_done"),
    ("  starting states prepared on the spot (too few ready)", "_reset_pool", "_prepare"),
    ("    motion library get_motion_state", "_motion_lib", "get_motion_state"),
    ("  backend.write_prepared_states (rows, state tensors)", "backend", "write_prepared_states"),
    ("pre_physics_step: actions -> PD targets -> ctrl", "", "pre_physics_step"),
    ("simulate", "", "simulate"),
    ("  MuJoCo batch.step (the physics, on its threads)", "backend._batch", "step"),
    ("  starting states prepared meanwhile (this thread)", "_reset_pool", "_prepare"),
    ("    motion library get_motion_state ", "_motion_lib", "get_motion_state"),
    ("post_physics_step", "", "post_physics_step"),
    ("  backend.refresh (conversions, forward kinematics)", "backend", "refresh"),
    ("  observations", "", "_compute_observations"),
    ("  reset flags (falls, time-outs)", "", "_compute_reset"),
    ("  AMP history", "", "_update_hist_amp_obs"),
)


def _owner(task: HumanoidAMP, path: str) -> object:
    owner = task
    for name in filter(None, path.split(".")):
        owner = getattr(owner, name)
    return owner


class _BatchProxy:
    """``mujoco.batch.Batch`` forbids new attributes; a proxy lets its ``step`` be timed."""

    def __init__(self, batch: object) -> None:
        self._batch = batch

    def __getattr__(self, name: str) -> object:
        return getattr(self._batch, name)


def _by_phase(phase: dict[str, bool], in_reset: Callable, in_step: Callable) -> Callable:
    def dispatch(*args: object) -> object:
        return in_reset(*args) if phase["resetting"] else in_step(*args)

    return dispatch


def profile_step(num_envs: int, threads: int, steps: int = PROFILED_STEPS) -> tuple[float, list[tuple[str, float]]]:
    """Mean wall time (s) of one control step and each part's mean time (s) within it."""
    torch.set_num_threads(threads)
    task = bench_task(num_envs, threads=threads)
    task.backend._batch = _BatchProxy(task.backend._batch)
    generator = torch.Generator().manual_seed(0)

    def control_step() -> None:
        task.reset_done()
        task.step(torch.rand(num_envs, task.num_actions, generator=generator) * 2 - 1)

    for _ in range(WARMUP_STEPS):
        control_step()
    totals: dict[str, float] = defaultdict(float)
    phase = {"resetting": False}

    def timed(label: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - start

        return wrapper

    labels_of: dict[tuple[str, str], list[str]] = defaultdict(list)
    for label, path, method in PARTS:
        labels_of[(path, method)].append(label)
    for (path, method), labels in labels_of.items():
        owner = _owner(task, path)
        function = getattr(owner, method)
        if len(labels) == 1:
            setattr(owner, method, timed(labels[0], function))
        else:  # told apart by whether a reset is under way
            setattr(owner, method, _by_phase(phase, timed(labels[0], function), timed(labels[1], function)))
    reset_done = task.reset_done

    def reset_phase() -> object:
        phase["resetting"] = True
        try:
            return reset_done()
        finally:
            phase["resetting"] = False

    task.reset_done = reset_phase
    start = time.perf_counter()
    for _ in range(steps):
        control_step()
    total = (time.perf_counter() - start) / steps
    task.close()
    return total, [(label, totals[label] / steps) for label, _, _ in PARTS]


def print_profiles(envs: list[int], thread_counts: list[int]) -> None:
    print(machine_description())
    print(
        f"motion {MOTION}; AMP window {default_amp_window()} steps; random actions; "
        f"mean of {PROFILED_STEPS} control steps after {WARMUP_STEPS}"
    )
    for num_envs in envs:
        for threads in thread_counts:
            stolen = StolenTime()
            total, parts = profile_step(num_envs, threads)
            print(f"\nN = {num_envs}, {threads} threads: {1000 * total:.2f} ms per control step")
            for label, seconds in parts:
                print(f"  {label:<58} {1000 * seconds:8.2f} ms {seconds / total:6.1%}", flush=True)
            accounted = sum(seconds for label, seconds in parts if not label.startswith(" "))
            rest = total - accounted
            print(f"  {'the rest (step template, actions, extras)':<58} {1000 * rest:8.2f} ms {rest / total:6.1%}")
            note = stolen.note()  # read once: each reading covers the time up to it
            if note:
                print(f"  {note}", flush=True)
