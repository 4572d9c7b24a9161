"""Environment throughput: the HumanoidAMP task against raw MuJoCo (the physical limit) and pybullet's DeepMimic
humanoid environment (a peer), with random actions, measured in the same run.

* raw MuJoCo: ``mujoco.batch`` stepping the same model, 4 physics steps per environment step, with uniform random
  servo targets and a bare reset when the pelvis drops below 0.5 m -- nothing else.
* task: ``HumanoidAMP.step`` with uniform random actions in [-1, 1] and ``reset_done`` every step, as a learner drives
  it (observations, AMP history, resets from the motion library, contact forces, unstable-state checks), with the
  default eager tensor maths; ``--compiled`` adds a column with ``compile_kernels`` (torch.compile, timed after
  compiling). On a machine with CUDA, a column for the same task delivering its observations on CUDA
  (``rl_device=cuda``), as training on a GPU does.
* each pair is measured side by side for each thread count of ``--threads`` (MuJoCo's threads and torch's; default
  1, 2 and every core).
* pybullet peer: ``PyBulletDeepMimicEnv`` (the environment behind ``HumanoidDeepMimicWalkBulletEnv``), one
  environment in this process, 8 physics steps of 1/240 s per environment step, random actions.
* ``--profile``: where the time of one control step goes (:mod:`isaacgymenvs.bench.env_profile`).

Raw MuJoCo and the task are timed in alternating blocks (``--rounds`` of each, ``--seconds`` long). Each rate is the
median of its blocks, and each ratio to raw MuJoCo the median of the ratios within a round: the machine's speed drifts
by tens of percent within minutes, and a ratio of neighbouring blocks cancels most of the drift. Memory per
environment is measured in a fresh process for each N (resident memory after building the task and stepping it,
minus the same process before).

    python -m isaacgymenvs.bench env [--envs 64 256 1024 4096] [--threads 1 2 0] [--seconds 1] [--rounds 7] [--quick]
        [--compiled] [--no-cuda] [--no-peer] [--no-memory] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import multiprocessing
import statistics
import sys
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import mujoco
import numpy as np
import torch
from mujoco.batch import Batch

from isaacgymenvs.bench.timing import StolenTime, machine_description, steal_reported
from isaacgymenvs.physics.mujoco_threads import available_cores
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

MOTION = "humanoid3d_run"
FALL_HEIGHT = 0.5  # m


# Alternating timed blocks of raw MuJoCo and of each task variant.
ROUNDS = 7


@functools.cache
def default_amp_window() -> int:
    """Control steps per AMP observation in the default configuration on this machine (5 on CPUs, 2 with CUDA): the
    window sets how much reference history every reset builds and how much history every step shifts."""
    from isaacgymenvs import compose_config

    return int(compose_config(["task=HumanoidAMP"]).task.env.numAMPObsSteps)


def bench_task(
    num_envs: int,
    compile_kernels: bool = False,
    threads: int = 0,
    rl_device: str = "cpu",
    task_config: dict[str, Any] | None = None,
) -> HumanoidAMP:
    """The task as ``bench env`` and its profile measure it: the run clip, the default configuration's AMP window; or,
    given ``task_config`` (a resolved ``task`` configuration, e.g. a training run's), that task. Either way with
    ``num_envs`` environments, ``threads`` threads and ``compile_kernels`` as asked."""
    if task_config is None:
        task_config = {"env": {"motion_file": MOTION, "numAMPObsSteps": default_amp_window()}}
    task_config = copy.deepcopy(task_config)
    task_config["env"]["numEnvs"] = num_envs
    mujoco_options = task_config.setdefault("sim", {}).setdefault("mujoco", {})
    mujoco_options.update(compile_kernels=compile_kernels, num_threads=threads)
    return HumanoidAMP(task_config, rl_device=rl_device, sim_device="cpu")


def _steps_per_second(step: Callable[[], None], num_envs: int, seconds: float) -> float:
    step()  # warm up
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    return steps * num_envs / (time.perf_counter() - start)


def raw_mujoco_stepper(task: HumanoidAMP) -> Callable[[], None]:
    """One raw MuJoCo step of ``task``'s model for as many environments, on as many threads as its backend: uniform
    random servo targets, the task's physics steps per environment step, a bare reset of every pelvis below
    :data:`FALL_HEIGHT`. Its own batch: the task's state is not touched."""
    model, num_envs = task.backend.model, task.num_envs
    batch = Batch(model, num_envs, nthread=task.backend.num_threads)
    qpos, ctrl = batch.bind("qpos"), batch.bind("ctrl")
    low, high = model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1]
    rng = np.random.default_rng(0)
    substeps = task.config.physics_steps_per_action

    def raw_step() -> None:
        ctrl[:] = rng.uniform(low, high, (num_envs, model.nu))
        batch.step(nstep=substeps)
        fallen = np.flatnonzero(qpos[:, 2] < FALL_HEIGHT)
        if fallen.size:
            batch.reset(fallen)

    return raw_step


@contextlib.contextmanager
def raw_mujoco_rate(
    num_envs: int, threads: int = 0, blocks: int = 3, task_config: dict[str, Any] | None = None
) -> Iterator[Callable[[float], float]]:
    """A measurement of raw MuJoCo's environment-steps/s at ``num_envs`` on ``threads`` threads (0: every core), to
    take as often as needed on one model built once: called with a block length (s), it returns the median of
    ``blocks`` timed blocks -- the physical limit, and how fast the machine is at the moment. The model and the
    physics steps per environment step are :func:`bench_task`'s, or those of ``task_config`` (a resolved ``task``
    configuration, e.g. a training run's) when given."""
    task = bench_task(num_envs, threads=threads, task_config=task_config)
    try:
        step = raw_mujoco_stepper(task)
        yield lambda seconds: statistics.median(_steps_per_second(step, num_envs, seconds) for _ in range(blocks))
    finally:
        task.close()


def paired_ratio(rates: list[float], reference_rates: list[float]) -> float:
    """The median over rounds of ``rates[i] / reference_rates[i]`` (blocks measured next to each other)."""
    return statistics.median(rate / reference for rate, reference in zip(rates, reference_rates, strict=True))


def measure(
    num_envs: int, seconds: float, threads: int, compiled: bool = False, cuda: bool = False, rounds: int = ROUNDS
) -> dict:
    """Median environment-steps/s at ``num_envs`` on ``threads`` threads (MuJoCo's and torch's) of raw MuJoCo and the
    task (``eager``; ``compiled`` with compiled kernels when asked; ``cuda`` delivering on CUDA when asked), and for
    each task the median over ``rounds`` of its rate over raw MuJoCo's in the same round (``eager/raw``, ...)."""
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        tasks = {"eager": bench_task(num_envs, threads=threads)}
        if compiled:
            tasks["compiled"] = bench_task(num_envs, compile_kernels=True, threads=threads)
        if cuda:
            tasks["cuda"] = bench_task(num_envs, threads=threads, rl_device="cuda")
        generator = torch.Generator().manual_seed(0)

        def stepper(task: HumanoidAMP) -> Callable[[], None]:
            def task_step() -> None:
                task.reset_done()
                actions = torch.rand(num_envs, task.num_actions, generator=generator) * 2 - 1
                task.step(actions.to(task.rl_device))
                if task.rl_device.type == "cuda":
                    torch.cuda.synchronize()

            for _ in range(3):  # compile (when asked) and settle before timing
                task_step()
            return task_step

        task_steps = {name: stepper(task) for name, task in tasks.items()}
        raw_step = raw_mujoco_stepper(tasks["eager"])
        rates: dict[str, list[float]] = {name: [] for name in ("raw", *task_steps)}
        for _ in range(rounds):
            for name, step in (("raw", raw_step), *task_steps.items()):
                rates[name].append(_steps_per_second(step, num_envs, seconds))
        result = {name: statistics.median(values) for name, values in rates.items()}
        for name in task_steps:
            result[f"{name}/raw"] = paired_ratio(rates[name], rates["raw"])
        for task in tasks.values():
            task.close()
    finally:
        torch.set_num_threads(torch_threads)
    return {"num_envs": num_envs, "threads": threads, **result}


def thread_counts(asked: list[int]) -> list[int]:
    """The distinct thread counts of ``asked`` (0: every core), in order."""
    counts = [count if count > 0 else available_cores() for count in asked]
    return list(dict.fromkeys(counts))


def _resident_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _memory_child(num_envs: int, queue: multiprocessing.Queue) -> None:
    before = _resident_kb()
    task = bench_task(num_envs)
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
    parser.add_argument("--envs", type=int, nargs="+", default=None, help="environment counts (64 256 1024 4096)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 0], help="thread counts; 0: every core")
    parser.add_argument("--seconds", type=float, default=None, help="length of each timed block (1)")
    parser.add_argument("--rounds", type=int, default=None, help=f"alternating blocks of each ({ROUNDS})")
    parser.add_argument("--quick", action="store_true", help="N = 1024 and 4096, 5 rounds, no memory, no peer")
    parser.add_argument("--compiled", action="store_true", help="also the task with compile_kernels")
    parser.add_argument("--no-cuda", action="store_true", help="skip the CUDA-delivery column on a GPU machine")
    parser.add_argument("--no-peer", action="store_true", help="skip the pybullet peer")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument("--profile", action="store_true", help="profile one control step instead (see env_profile)")
    args = parser.parse_args(argv)
    if any(count < 0 for count in args.threads) or any(count <= 0 for count in args.envs or [1]):
        parser.error("--envs must be positive and --threads >= 0 (0: every core)")
    if (args.rounds is not None and args.rounds <= 0) or (args.seconds is not None and args.seconds <= 0):
        parser.error("--rounds and --seconds must be positive")
    envs = args.envs or ([1024, 4096] if args.quick else [64, 256, 1024, 4096])
    seconds = args.seconds or 1.0
    rounds = args.rounds or (5 if args.quick else ROUNDS)
    if args.profile:
        from isaacgymenvs.bench.env_profile import print_profiles

        print_profiles(envs, thread_counts(args.threads))
        return
    cuda = torch.cuda.is_available() and not args.no_cuda
    print(machine_description())
    print(
        f"MuJoCo {mujoco.__version__}, {available_cores()} cores; motion {MOTION}; AMP window {default_amp_window()} "
        "steps; random actions; "
        f"env-steps/s = median of {rounds} alternating blocks of {seconds:g} s, /raw = median of the ratios within a "
        "round; threads = MuJoCo's and torch's; steal = CPU time the virtual machine's host took meanwhile"
    )
    columns = ["task eager", *(["task compiled"] if args.compiled else []), *(["task cuda"] if cuda else [])]
    header = f"{'N':>6} {'threads':>7} {'raw MuJoCo':>11}" + "".join(f" {name:>14} {'/raw':>5}" for name in columns)
    print(header + (f" {'steal':>5}" if steal_reported() else ""), flush=True)
    for num_envs in envs:
        for threads in thread_counts(args.threads):
            stolen = StolenTime()
            row = measure(num_envs, seconds, threads, compiled=args.compiled, cuda=cuda, rounds=rounds)
            line = f"{num_envs:>6} {threads:>7} {row['raw']:>11.0f}"
            for name in ("eager", "compiled", "cuda"):
                if name in row:
                    line += f" {row[name]:>14.0f} {row[f'{name}/raw']:>5.0%}"
            print(line + stolen.column(), flush=True)
        if not (args.no_memory or args.quick):
            print(f"{'':>6} memory per environment: {memory_per_env_kb(num_envs):.1f} KB", flush=True)
    if not (args.no_peer or args.quick):
        print(f"pybullet DeepMimic humanoid (1 env, 8 x 1/240 s per step): {measure_peer(seconds):.0f} env-steps/s")
