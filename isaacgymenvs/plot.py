"""Training curves as a PNG: ``python -m isaacgymenvs.plot runs/<experiment> [runs/<other> ...] [--out curves.png]``.

Reads the run's TensorBoard events (``summaries/``) and draws, against environment samples: the episode length, the
discriminator reward (mean and +-1 std), the discriminator's accuracies on agent and demonstration samples, and the
losses (discriminator, actor, critic) and throughput. Written to ``runs/<experiment>/curves.png`` by default. Several
runs are drawn over each other in the same panels, each curve labelled with its run's folder name (``--out`` needed).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

PANELS = (
    ("episode length (steps)", [("episode_lengths/frame", "episode length")]),
    ("discriminator reward", [("info/disc_reward_mean", "mean")]),
    ("discriminator accuracy", [("info/disc_agent_acc", "on agent samples"), ("info/disc_demo_acc", "on demos")]),
    ("discriminator loss", [("losses/disc_loss", "total")]),
    ("PPO losses", [("losses/a_loss", "actor"), ("losses/c_loss", "critic")]),
    ("throughput (samples/s)", [("performance/total_fps", "end to end"), ("performance/step_fps", "environment")]),
)


class PlotError(ValueError):
    """A run folder without usable events."""


def read_scalars(run_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{tag: (steps, values)}`` from every event file under ``run_dir/summaries`` (or ``run_dir`` itself)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = run_dir / "summaries" if (run_dir / "summaries").is_dir() else run_dir
    if not folder.is_dir():
        raise PlotError(f"{run_dir}: no such run folder")
    if not any(name.startswith("events.out.tfevents") for name in os.listdir(folder)):
        raise PlotError(f"{run_dir}: no TensorBoard events in {folder} (has this run trained an epoch yet?)")
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    scalars = {}
    for tag in events.Tags()["scalars"]:
        entries = events.Scalars(tag)
        scalars[tag] = (np.array([entry.step for entry in entries]), np.array([entry.value for entry in entries]))
    if not scalars:
        raise PlotError(f"{run_dir}: the events hold no scalars yet")
    return scalars


def plot_run(run_dir: Path, output: Path) -> Path:
    """Draw the curves of ``run_dir`` into ``output`` (PNG)."""
    return plot_runs([run_dir], output)


def plot_runs(run_dirs: list[Path], output: Path) -> Path:
    """Draw the curves of every run in ``run_dirs`` into ``output`` (PNG); with several, each label names its run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [run_dir.name for run_dir in run_dirs]
    if len(set(names)) < len(names):  # runs/a/x and runs/b/x: name them by their parent folder too
        names = [f"{run_dir.parent.name}/{run_dir.name}" for run_dir in run_dirs]
    runs = [(name, read_scalars(run_dir)) for name, run_dir in zip(names, run_dirs, strict=True)]
    several = len(runs) > 1
    figure, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    for axis, (title, series) in zip(axes.flat, PANELS, strict=True):
        for run_name, scalars in runs:
            for tag, label in series:
                if tag in scalars:
                    steps, values = scalars[tag]
                    name = (f"{run_name}: {label}" if len(series) > 1 else run_name) if several else label
                    axis.plot(steps / 1e6, values, label=name, linewidth=1.2)
            if title == "discriminator reward" and {"info/disc_reward_std", "info/disc_reward_mean"} <= set(scalars):
                steps, mean = scalars["info/disc_reward_mean"]
                std = scalars["info/disc_reward_std"][1]
                axis.fill_between(steps / 1e6, mean - std, mean + std, alpha=0.2, label=None if several else "+-1 std")
        axis.set_title(title)
        axis.set_xlabel("environment samples (millions)")
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=8)
    figure.suptitle(" vs ".join(name for name, _ in runs))
    temporary = output.with_name(f".{output.name}.partial.png")
    try:
        figure.savefig(temporary, dpi=100)
        os.replace(temporary, output)
    finally:
        plt.close(figure)
        if temporary.exists():
            temporary.unlink()
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.plot", description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="+", help="a run folder, runs/<experiment>; several are drawn over each other")
    parser.add_argument("--out", help="output PNG (default: <run>/curves.png; needed with several runs)")
    args = parser.parse_args(argv)
    run_dirs = [Path(run) for run in args.run]
    for run_dir in run_dirs:
        if not run_dir.is_dir():
            print(f"error: {run_dir}: no such run folder", file=sys.stderr)
            return 1
    if len(run_dirs) > 1 and not args.out:
        print("error: several runs are drawn into one picture; name it with --out <file>.png", file=sys.stderr)
        return 1
    output = Path(args.out) if args.out else run_dirs[0] / "curves.png"
    if output.suffix.lower() != ".png":
        print(f"error: {output}: the plot is a PNG; name the output *.png", file=sys.stderr)
        return 1
    if not output.parent.is_dir() or not os.access(output.parent, os.W_OK):
        print(f"error: {output}: cannot write to folder {str(output.parent)!r}", file=sys.stderr)
        return 1
    try:
        print(f"wrote {plot_runs(run_dirs, output)}")
    except PlotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
