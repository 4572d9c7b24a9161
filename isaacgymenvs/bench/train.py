"""End-to-end training throughput: environment samples per second of the real launcher, per configuration.

Each configuration is a list of command-line overrides; it runs ``launch.py`` in a fresh process for a few epochs (in
a temporary folder) and reports the median over the epochs after the first (which also fills the demonstration
buffer) of the total rate (samples / epoch wall time) and of the environment-only rate (samples / time inside
``env.step``), as the progress lines print them.

    python -m isaacgymenvs.bench train [--epochs 6] [--preset cpu-sweep|default|ranks]

The ``ranks`` preset compares one process with two torchrun ranks (gloo on CPUs, ``multi_gpu=True``): rank 0's
progress lines count the samples of every rank.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from isaacgymenvs.bench.timing import machine_description

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_PROGRESS = re.compile(r"^epoch (\d+)/\d+ \| frames \d+ \| (\d+) samples/s \(env (\d+)/s\)")


class Configuration(NamedTuple):
    label: str
    overrides: list[str]
    processes: int = 1  # torchrun ranks on this machine


PRESETS: dict[str, list[Configuration]] = {
    "default": [Configuration("default config", [])],
    "ranks": [
        Configuration("1 process, 512 envs", []),
        Configuration("2 ranks x 256 envs (same samples per epoch)", ["num_envs=256"], processes=2),
        Configuration("2 ranks x 512 envs", [], processes=2),
    ],
    "cpu-sweep": [
        Configuration(
            "256 envs, h32, mb2048, [1024,512], 6 mini-epochs",
            [
                "num_envs=256",
                "train.params.config.horizon_length=32",
                "train.params.config.minibatch_size=2048",
                "train.params.config.amp_minibatch_size=512",
                "train.params.config.mini_epochs=6",
                "train.params.network.mlp.units=[1024,512]",
                "train.params.network.disc.units=[1024,512]",
            ],
        ),
        Configuration(
            "256 envs, h32, mb2048, [512,256], 6 mini-epochs",
            [
                "num_envs=256",
                "train.params.config.horizon_length=32",
                "train.params.config.minibatch_size=2048",
                "train.params.config.amp_minibatch_size=512",
                "train.params.config.mini_epochs=6",
                "train.params.network.mlp.units=[512,256]",
                "train.params.network.disc.units=[512,256]",
            ],
        ),
        Configuration(
            "256 envs, h32, mb2048, [512,256], 4 mini-epochs",
            [
                "num_envs=256",
                "train.params.config.horizon_length=32",
                "train.params.config.minibatch_size=2048",
                "train.params.config.amp_minibatch_size=512",
                "train.params.config.mini_epochs=4",
                "train.params.network.mlp.units=[512,256]",
                "train.params.network.disc.units=[512,256]",
            ],
        ),
        Configuration(
            "512 envs, h16, mb2048, [512,256], 4 mini-epochs",
            [
                "num_envs=512",
                "train.params.config.horizon_length=16",
                "train.params.config.minibatch_size=2048",
                "train.params.config.amp_minibatch_size=512",
                "train.params.config.mini_epochs=4",
                "train.params.network.mlp.units=[512,256]",
                "train.params.network.disc.units=[512,256]",
            ],
        ),
        Configuration(
            "256 envs, h32, mb4096, [512,256], 4 mini-epochs",
            [
                "num_envs=256",
                "train.params.config.horizon_length=32",
                "train.params.config.minibatch_size=4096",
                "train.params.config.amp_minibatch_size=1024",
                "train.params.config.mini_epochs=4",
                "train.params.network.mlp.units=[512,256]",
                "train.params.network.disc.units=[512,256]",
            ],
        ),
    ],
}


def measure(overrides: list[str], epochs: int, processes: int = 1) -> dict[str, float]:
    """Median total and environment samples/s of a short training run with ``overrides`` (on ``processes`` torchrun
    ranks when more than one)."""
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
        result = subprocess.run(
            command, cwd=folder, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        )
    if result.returncode != 0:
        raise RuntimeError(f"training failed: {result.stderr.strip().splitlines()[-1:]}")
    rows = [_PROGRESS.match(line) for line in result.stdout.splitlines()]
    rows = [(int(m.group(1)), int(m.group(2)), int(m.group(3))) for m in rows if m]
    later = [row for row in rows if row[0] > 1] or rows
    return {
        "total": statistics.median(row[1] for row in later),
        "env": statistics.median(row[2] for row in later),
        "epochs": len(rows),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench train", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("overrides", nargs="*", help="extra overrides for every configuration")
    args = parser.parse_args(argv)
    print(machine_description())
    print(f"median over epochs 2..{args.epochs} of samples/s (total, and inside env.step)")
    print(f"{'configuration':<52} {'total/s':>8} {'env/s':>8}")
    for configuration in PRESETS[args.preset]:
        row = measure([*configuration.overrides, *args.overrides], args.epochs, configuration.processes)
        print(f"{configuration.label:<52} {row['total']:>8.0f} {row['env']:>8.0f}", flush=True)
