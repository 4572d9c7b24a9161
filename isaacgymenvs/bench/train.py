"""End-to-end training throughput: environment samples per second of the real launcher, per configuration.

Each configuration is a list of command-line overrides; it runs ``launch.py`` in a fresh process for a few epochs (in
a temporary folder) and reports the median over the epochs after the first (which also fills the demonstration
buffer) of the total rate (samples / epoch wall time) and of the environment-only rate (samples / time inside
``env.step``), as the progress lines print them. Beside them, raw MuJoCo's rate for the configuration's environments
(all ranks' together) on every core: ``bench env``'s raw stepping with the default task configuration, three blocks of
``--reference-seconds`` just before and just after the run, in this process while the run is not going on (and without
``--busy``'s processes): a shared machine's speed moves by a factor of two between hours, and the ratio of the
end-to-end rate to it stays comparable where the absolute rates are not.

    python -m isaacgymenvs.bench train [--epochs 6] [--preset cpu-sweep|default|ranks|threads] [--busy N]
        [--no-reference] [--reference-seconds 1]
    python -m isaacgymenvs.bench train --profile [--epochs 6] [overrides]

``--profile`` instead trains one configuration in this process and prints where an epoch's time goes (rollout, resets,
policy, environment, discriminator rewards, gradient steps and their parts; :mod:`isaacgymenvs.bench.train_profile`).

The ``ranks`` preset compares one process with two torchrun ranks (gloo on CPUs, ``multi_gpu=True``): rank 0's
progress lines count the samples of every rank. The ``threads`` preset compares thread settings of torch (the update)
and MuJoCo (the rollout); ``--busy N`` runs N other CPU-bound processes meanwhile, as on a machine doing other work.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import NamedTuple

from isaacgymenvs.bench.runs import LAUNCHER_PROGRESS, PROJECT_ROOT, run_streaming
from isaacgymenvs.bench.timing import StolenTime, machine_description, steal_reported


class Configuration(NamedTuple):
    label: str
    overrides: list[str]
    processes: int = 1  # torchrun ranks on this machine
    environment: dict[str, str] = {}  # noqa: RUF012 -- never mutated


def _sweep_point(
    envs: int, horizon: int, minibatch: int, amp_minibatch: int, mini_epochs: int, units: str
) -> Configuration:
    """One CPU-sweep configuration: environments, rollout length, policy and discriminator minibatches, mini-epochs
    and the hidden units of all three networks."""
    return Configuration(
        f"{envs} envs, h{horizon}, mb{minibatch}/{amp_minibatch}, {units}, {mini_epochs} mini-epochs",
        [
            f"num_envs={envs}",
            f"train.params.config.horizon_length={horizon}",
            f"train.params.config.minibatch_size={minibatch}",
            f"train.params.config.amp_minibatch_size={amp_minibatch}",
            f"train.params.config.mini_epochs={mini_epochs}",
            f"train.params.network.mlp.units={units}",
            f"train.params.network.disc.units={units}",
        ],
    )


PRESETS: dict[str, list[Configuration]] = {
    "default": [Configuration("default config", [])],
    "ranks": [
        Configuration("1 process, 512 envs", []),
        Configuration("2 ranks x 256 envs (same samples per epoch)", ["num_envs=256"], processes=2),
        Configuration("2 ranks x 512 envs", [], processes=2),
    ],
    "cpu-sweep": [
        _sweep_point(256, 32, 2048, 512, 6, "[1024,512]"),
        _sweep_point(256, 32, 2048, 512, 6, "[512,256]"),
        _sweep_point(256, 32, 2048, 512, 4, "[512,256]"),
        _sweep_point(512, 16, 2048, 512, 4, "[512,256]"),
        _sweep_point(256, 32, 4096, 1024, 4, "[512,256]"),
        _sweep_point(512, 16, 2048, 512, 6, "[512,256]"),
        _sweep_point(512, 32, 4096, 512, 4, "[512,256]"),  # the sweep's choice; the CPU default since runs horizon 16
        _sweep_point(1024, 16, 4096, 512, 4, "[512,256]"),
    ],
    "threads": [
        Configuration("default (torch: every core or 1, timed)", []),
        Configuration("torch and MuJoCo every core, fixed", ["++train.params.torch_threads=0"]),
        Configuration("torch 1 thread, MuJoCo every core", ["++train.params.torch_threads=1"]),
        Configuration("num_threads=1 (torch and MuJoCo)", ["num_threads=1"]),
        Configuration(
            "every core, OMP_WAIT_POLICY=PASSIVE",
            ["++train.params.torch_threads=0"],
            environment={"OMP_WAIT_POLICY": "PASSIVE"},
        ),
    ],
}


def measure(
    overrides: list[str], epochs: int, processes: int = 1, environment: dict[str, str] | None = None
) -> dict[str, float]:
    """Median total and environment samples/s of a short training run with ``overrides`` (on ``processes`` torchrun
    ranks when more than one, with ``environment`` variables added)."""
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        overrides = [*overrides, "multi_gpu=True"]
    with tempfile.TemporaryDirectory(prefix="train_bench_") as folder:
        command = [
            *launcher,
            str(PROJECT_ROOT / "launch.py"),
            "task=HumanoidAMP",
            f"max_iterations={epochs}",
            "experiment=bench",
            "train.params.config.save_frequency=0",
            *overrides,
        ]
        lines = run_streaming(command, folder, "launch.py", environment=environment)
    rows = [m for m in map(LAUNCHER_PROGRESS.match, lines) if m]
    rows = [(int(m["epoch"]), int(m["total"]), int(m["env"])) for m in rows]
    later = [row for row in rows if row[0] > 1] or rows
    return {
        "total": statistics.median(row[1] for row in later),
        "env": statistics.median(row[2] for row in later),
        "epochs": len(rows),
    }


def configured_num_envs(overrides: list[str]) -> int:
    """The environment count (per process) a launch with ``overrides`` gets on this machine."""
    from isaacgymenvs import compose_config

    return int(compose_config(["task=HumanoidAMP", *overrides]).task.env.numEnvs)


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """``count`` CPU-bound processes running meanwhile (another job on the machine)."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main(argv: list[str] | None = None) -> int | None:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench train", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes running meanwhile (default 0)")
    parser.add_argument("--profile", action="store_true", help="where one epoch's time goes (one configuration)")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip raw MuJoCo's rate before and after each configuration"
    )
    parser.add_argument(
        "--reference-seconds", type=float, default=1.0, help="length of each of raw MuJoCo's timed blocks (1)"
    )
    parser.add_argument("overrides", nargs="*", help="extra overrides for every configuration")
    args = parser.parse_args(argv)
    if args.reference_seconds <= 0:
        parser.error("--reference-seconds must be positive")
    if args.profile:
        if args.preset != "default" or args.busy:
            parser.error("--profile takes overrides, not --preset or --busy")
        from isaacgymenvs.bench.train_profile import main as profile_main

        return profile_main(args.overrides, args.epochs)
    print(machine_description())
    busy = f", {args.busy} CPU-bound processes running meanwhile" if args.busy else ""
    print(
        f"median over epochs 2..{args.epochs} of samples/s (total, and inside env.step){busy}; "
        "steal = CPU time the virtual machine's host took meanwhile"
    )
    if not args.no_reference:
        print(
            "raw/s = raw MuJoCo for the configuration's environments (all ranks') on every core, measured just "
            "before and just after the run, without --busy's processes (mean; the machine's speed at the time); "
            "total/raw = total/s over it"
        )
    reference_header = "" if args.no_reference else f" {'raw/s':>8} {'total/raw':>9}"
    steal_header = f" {'steal':>5}" if steal_reported() else ""
    print(f"{'configuration':<54} {'total/s':>8} {'env/s':>8}{reference_header}{steal_header}")
    from isaacgymenvs.bench.env import raw_mujoco_rate  # the task and MuJoCo: loaded once the command line is good

    for configuration in PRESETS[args.preset]:
        overrides = [*configuration.overrides, *args.overrides]
        # rank 0 counts every rank's samples: the reference steps as many environments
        num_envs = None if args.no_reference else configured_num_envs(overrides) * configuration.processes
        stolen = StolenTime()
        with contextlib.nullcontext() if num_envs is None else raw_mujoco_rate(num_envs) as raw_rate:
            raw_before = None if raw_rate is None else raw_rate(args.reference_seconds)
            with busy_processes(args.busy):
                row = measure(overrides, args.epochs, configuration.processes, configuration.environment)
            line = f"{configuration.label:<54} {row['total']:>8.0f} {row['env']:>8.0f}"
            if raw_rate is not None:
                raw = 0.5 * (raw_before + raw_rate(args.reference_seconds))
                line += f" {raw:>8.0f} {row['total'] / raw:>9.2f}"
        print(line + stolen.column(), flush=True)
