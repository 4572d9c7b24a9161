"""Environment throughput: the HumanoidAMP task against raw MuJoCo (the physical limit) and pybullet's DeepMimic
humanoid environment (a peer), with random actions, measured in the same run.

* task: ``HumanoidAMP.step`` with uniform random actions in [-1, 1] and ``reset_done`` every step, as a learner drives
  it (observations, AMP history, resets from the motion library, contact forces, unstable-state checks); once with the
  default eager tensor maths and once with ``compile_kernels`` (torch.compile, timed after compiling).
* raw MuJoCo: ``mujoco.batch`` stepping the same model, 4 physics steps per environment step, on the same threads,
  with uniform random servo targets and a bare reset when the pelvis drops below 0.5 m -- nothing else.
* pybullet peer: ``PyBulletDeepMimicEnv`` (the environment behind ``HumanoidDeepMimicWalkBulletEnv``), one
  environment in this process, 8 physics steps of 1/240 s per environment step, random actions.

Each figure is the median of three alternating timed blocks. Memory per environment is measured in a fresh process
for each N (resident memory after building the task and stepping it, minus the same process before).

    python -m isaacgymenvs.bench env [--envs 64 256 1024 4096] [--seconds 3] [--no-peer]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
import types

import mujoco
import numpy as np
import torch
from mujoco.batch import Batch

from isaacgymenvs.bench.timing import machine_description
from isaacgymenvs.physics.mujoco_backend import available_cores
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

MOTION = "humanoid3d_run"
FALL_HEIGHT = 0.5  # m


def _task(num_envs: int, compile_kernels: bool = False) -> HumanoidAMP:
    return HumanoidAMP(
        {"env": {"numEnvs": num_envs, "motion_file": MOTION}, "sim": {"mujoco": {"compile_kernels": compile_kernels}}},
        rl_device="cpu",
        sim_device="cpu",
    )


def _steps_per_second(step: callable, num_envs: int, seconds: float) -> float:
    step()  # warm up
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    return steps * num_envs / (time.perf_counter() - start)


def measure(num_envs: int, seconds: float) -> dict[str, float]:
    """Median environment-steps/s at ``num_envs``: the task (eager and with compiled kernels) and raw MuJoCo."""
    tasks = {"eager": _task(num_envs), "compiled": _task(num_envs, compile_kernels=True)}
    generator = torch.Generator().manual_seed(0)

    def stepper(task: HumanoidAMP) -> callable:
        def task_step() -> None:
            task.reset_done()
            task.step(torch.rand(num_envs, task.num_actions, generator=generator) * 2 - 1)

        for _ in range(3):  # compile (when asked) and settle before timing
            task_step()
        return task_step

    task_steps = {name: stepper(task) for name, task in tasks.items()}
    model = tasks["eager"].backend.model
    threads = tasks["eager"].backend.num_threads
    batch = Batch(model, num_envs, nthread=threads)
    qpos, ctrl = batch.bind("qpos"), batch.bind("ctrl")
    low, high = model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1]
    rng = np.random.default_rng(0)
    substeps = tasks["eager"].config.physics_steps_per_action

    def raw_step() -> None:
        ctrl[:] = rng.uniform(low, high, (num_envs, model.nu))
        batch.step(nstep=substeps)
        fallen = np.flatnonzero(qpos[:, 2] < FALL_HEIGHT)
        if fallen.size:
            batch.reset(fallen)

    rates: dict[str, list[float]] = {"eager": [], "compiled": [], "raw": []}
    for _ in range(3):
        for name, step in (*task_steps.items(), ("raw", raw_step)):
            rates[name].append(_steps_per_second(step, num_envs, seconds))
    result = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "num_envs": num_envs,
        "threads": threads,
        **result,
        "eager_ratio": result["eager"] / result["raw"],
        "compiled_ratio": result["compiled"] / result["raw"],
    }


def _resident_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _memory_child(num_envs: int, queue: multiprocessing.Queue) -> None:
    before = _resident_kb()
    task = _task(num_envs)
    task.reset_done()
    for _ in range(5):
        task.reset_done()
        task.step(torch.zeros(num_envs, task.num_actions))
    queue.put(_resident_kb() - before)


def memory_per_env_kb(num_envs: int) -> float:
    """Resident memory (KB) per environment of a task with ``num_envs`` environments, in a fresh process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_memory_child, args=(num_envs, queue))
    child.start()
    used = queue.get(timeout=600)
    child.join()
    return used / num_envs


def _import_deepmimic_env() -> type:
    """pybullet's DeepMimic environment class. Its package imports ``gym`` only to register gym ids; where gym is not
    installed (it is not a dependency: gymnasium is), a stand-in registry lets the import through."""
    try:
        import gym  # noqa: F401
    except ImportError:
        registration = types.SimpleNamespace(
            registry=types.SimpleNamespace(env_specs={}), make=None, spec=None, register=lambda *args, **kwargs: None
        )
        stand_in = types.ModuleType("gym")
        stand_in.envs = types.SimpleNamespace(registration=registration)
        sys.modules["gym"] = stand_in
        sys.modules["gym.envs"] = types.ModuleType("gym.envs")
        sys.modules["gym.envs.registration"] = types.ModuleType("gym.envs.registration")
        for name, value in vars(registration).items():
            setattr(sys.modules["gym.envs.registration"], name, value)
    from pybullet_envs.deep_mimic.env.pybullet_deep_mimic_env import InitializationStrategy, PyBulletDeepMimicEnv
    from pybullet_utils.arg_parser import ArgParser

    return PyBulletDeepMimicEnv, InitializationStrategy, ArgParser


def measure_peer(seconds: float) -> float:
    """Environment-steps/s of pybullet's DeepMimic walk environment (one environment, this process)."""
    import pybullet_data

    environment_class, strategy, arg_parser_class = _import_deepmimic_env()
    arguments = arg_parser_class()
    arguments.load_file(pybullet_data.getDataPath() + "/args/run_humanoid3d_walk_args.txt")
    environment = environment_class(arguments, False, time_step=1.0 / 240, init_strategy=strategy.RANDOM)
    environment.reset()
    low = np.asarray(environment.build_action_bound_min(-1))
    high = np.asarray(environment.build_action_bound_max(-1))
    rng = np.random.default_rng(0)

    def step() -> None:
        environment.set_action(-1, rng.uniform(low, high))
        for _ in range(8):
            environment.update(1.0 / 240)
        environment.record_state(-1)
        environment.calc_reward(-1)
        if environment.is_episode_end():
            environment.reset()

    return statistics.median(_steps_per_second(step, 1, seconds) for _ in range(3))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench env", description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, nargs="+", default=[64, 256, 1024, 4096])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each timed block")
    parser.add_argument("--no-peer", action="store_true", help="skip the pybullet peer")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    args = parser.parse_args(argv)
    print(machine_description())
    print(
        f"MuJoCo {mujoco.__version__}, {available_cores()} cores; motion {MOTION}; random actions; "
        f"env-steps/s = median of 3 blocks of {args.seconds:g} s"
    )
    print(
        f"{'N':>6} {'threads':>7} {'raw MuJoCo':>11} {'task eager':>11} {'/raw':>5} {'task compiled':>14} "
        f"{'/raw':>5} {'memory/env':>11}"
    )
    for num_envs in args.envs:
        row = measure(num_envs, args.seconds)
        memory = "" if args.no_memory else f"{memory_per_env_kb(num_envs):>8.1f} KB"
        print(
            f"{num_envs:>6} {row['threads']:>7} {row['raw']:>11.0f} {row['eager']:>11.0f} {row['eager_ratio']:>5.0%} "
            f"{row['compiled']:>14.0f} {row['compiled_ratio']:>5.0%} {memory:>11}",
            flush=True,
        )
    if not args.no_peer:
        print(
            f"pybullet DeepMimic humanoid (1 env, 8 x 1/240 s per step): {measure_peer(args.seconds):.0f} env-steps/s"
        )
