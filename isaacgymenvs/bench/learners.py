"""Our ``AMPAgent`` against skrl's AMP agent on the same task, seed, budget and network sizes.

Runs ``launch.py`` and ``examples/train_skrl_amp.py`` one after the other, each in a fresh process with the same Hydra
overrides (``task=HumanoidAMP``, the train config's horizon, minibatches, mini-epochs, networks, learning rate and
loss weights; skrl's side translates them, ``isaacgymenvs/learning/skrl_amp.py``; the logistic discriminator and added
rewards, all that skrl has), for the same number of
rollout-and-update iterations, so both see the same number of environment samples. It reports

* throughput: the median over iterations after the first of samples per second of wall time (rollout and update);
* learning: the mean episode length (of 300 steps) and the discriminator loss, averaged over the last tenth of the
  iterations before each quarter of the budget, read from each learner's progress lines and TensorBoard events;

and with ``--plot FILE`` draws both learning curves against samples.

    python -m isaacgymenvs.bench learners [--epochs 120] [--seed 42] [--plot curves.png] [overrides ...]

The episode lengths are each learner's own statistic: rl_games averages the last 100 finished episodes, skrl the
episodes that finished since its previous log entry (one rollout); both are means of finished episodes' lengths.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from isaacgymenvs.bench.runs import LAUNCHER_PROGRESS, PROJECT_ROOT, run_streaming
from isaacgymenvs.bench.timing import machine_description
from isaacgymenvs.learning.skrl_options import SKRL_AMP_VALUES, skrl_overrides
from isaacgymenvs.utils.overrides import override_keys

_SKRL = re.compile(
    r"^update (\d+)/\d+ \| frames (\d+) \| (\d+) samples/s \| episode length ([\d.]+|n/a) \| disc loss ([-\d.e+]+)"
)


class Curve(NamedTuple):
    """One learner's run: per iteration, the samples so far, samples/s, mean episode length (nan before any episode
    ended) and discriminator loss."""

    name: str
    frames: np.ndarray
    samples_per_second: np.ndarray
    episode_length: np.ndarray
    disc_loss: np.ndarray


def _length(text: str | None) -> float:
    return float("nan") if text in (None, "n/a") else float(text)


def run_ours(overrides: list[str], epochs: int, folder: str, every: int) -> Curve:
    """Our launcher for ``epochs`` epochs; the discriminator loss comes from its TensorBoard events."""
    from isaacgymenvs.plot import read_scalars

    command = [
        sys.executable,
        str(PROJECT_ROOT / "launch.py"),
        f"max_iterations={epochs}",
        "experiment=ours",
        "train.params.config.save_frequency=0",
        *overrides,
    ]
    rows = [m for m in map(LAUNCHER_PROGRESS.match, run_streaming(command, folder, "ours", every)) if m]
    frames = np.array([int(m["frames"]) for m in rows], dtype=np.float64)
    steps, losses = read_scalars(Path(folder) / "runs" / "ours")["losses/disc_loss"]
    disc_loss = np.interp(frames, steps, losses)  # logged once per epoch at the same frame counts
    return Curve(
        "ours (rl_games AMPAgent)",
        frames,
        np.array([float(m["total"]) for m in rows]),
        np.array([_length(m["length"]) for m in rows]),
        disc_loss,
    )


def run_skrl(overrides: list[str], epochs: int, folder: str, every: int) -> Curve:
    """skrl's AMP agent through ``examples/train_skrl_amp.py`` for ``epochs`` updates."""
    command = [
        sys.executable,
        str(PROJECT_ROOT / "examples" / "train_skrl_amp.py"),
        f"max_iterations={epochs}",
        "experiment=skrl",
        "train.params.config.save_frequency=0",
        *overrides,
    ]
    rows = [m for m in map(_SKRL.match, run_streaming(command, folder, "skrl", every)) if m]
    return Curve(
        "skrl 2.1 AMP",
        np.array([int(m.group(2)) for m in rows], dtype=np.float64),
        np.array([float(m.group(3)) for m in rows]),
        np.array([_length(m.group(4)) for m in rows]),
        np.array([float(m.group(5)) for m in rows]),
    )


def window_mean(values: np.ndarray, end: int, width: int) -> float:
    """Mean of the finite entries of ``values[end - width:end]`` (nan when none)."""
    window = values[max(0, end - width) : end]
    window = window[np.isfinite(window)]
    return float(window.mean()) if len(window) else float("nan")


def summary_rows(curve: Curve) -> list[tuple[float, float, float]]:
    """``(samples, episode length, disc loss)`` at each quarter of the run, averaged over the last tenth before it."""
    count = len(curve.frames)
    width = max(1, count // 10)
    rows = []
    for quarter in (1, 2, 3, 4):
        end = max(1, count * quarter // 4)
        rows.append(
            (
                curve.frames[end - 1],
                window_mean(curve.episode_length, end, width),
                window_mean(curve.disc_loss, end, width),
            )
        )
    return rows


def plot(curves: list[Curve], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for curve in curves:
        axes[0].plot(curve.frames / 1e6, curve.episode_length, label=curve.name)
        axes[1].plot(curve.frames / 1e6, curve.disc_loss, label=curve.name)
    axes[0].set_ylabel("mean episode length (steps of 300)")
    axes[1].set_ylabel("discriminator loss")
    for axis in axes:
        axis.set_xlabel("environment samples (millions)")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench learners", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=120, help="rollout-and-update iterations per learner")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--plot", type=Path, help="write both learning curves to this PNG")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for both learners")
    args = parser.parse_args(argv)
    if args.epochs < 4:
        parser.error("--epochs must be at least 4 (the summary reports each quarter of the run)")
    # skrl's agent follows some options at one value only (the original's logistic discriminator, added rewards, no
    # feature mask or warm-up window): ours uses those values too, whatever the defaults, and asking for others is
    # refused before either learner runs.
    given = override_keys(args.overrides)
    for key, only in SKRL_AMP_VALUES.items():
        value = given.get(f"train.params.config.{key}", str(only))
        if value.lower() != str(only).lower():  # Hydra reads false and False alike
            parser.error(f"train.params.config.{key}={value}: skrl's AMP agent has only {key} {only}; drop it")
    # skrl's agent runs in float32 here; so does ours, so that the comparison is of the learners, not of precision.
    precision = [] if "train.params.config.mixed_precision" in given else ["train.params.config.mixed_precision=False"]
    overrides = ["task=HumanoidAMP", f"seed={args.seed}", *skrl_overrides(), *precision, *args.overrides]
    every = max(1, args.epochs // 10)
    print(machine_description())
    print(f"both learners: {args.epochs} iterations, overrides {' '.join(overrides)}", flush=True)
    curves = []
    with tempfile.TemporaryDirectory(prefix="learners_bench_") as folder:
        for run in (run_ours, run_skrl):
            curves.append(run(overrides, args.epochs, folder, every))
    print(f"\nmedian samples/s over iterations 2..{args.epochs} (rollout and update, wall time)")
    for curve in curves:
        print(f"  {curve.name:<26} {statistics.median(curve.samples_per_second[1:]):>8.0f}")
    reference = curves[0].samples_per_second[1:]
    ratio = statistics.median(curves[1].samples_per_second[1:]) / statistics.median(reference)
    print(f"  skrl / ours: {ratio:.2f}")
    print("\n| samples | learner | episode length | disc loss |\n|---:|---|---:|---:|")
    for quarter in range(4):
        for curve in curves:
            frames, length, loss = summary_rows(curve)[quarter]
            print(f"| {frames:,.0f} | {curve.name} | {length:.1f} | {loss:.3f} |")
    if args.plot:
        plot(curves, args.plot)
        print(f"\nwrote {args.plot}")
