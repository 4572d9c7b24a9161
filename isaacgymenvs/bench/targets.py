"""The CPU path's speed targets on this machine, as distributions: ``python -m isaacgymenvs.bench targets``.

A shared machine's speed swings by tens of percent within minutes, so a single measurement says little about whether a
target is met. This command repeats, round after round, the two measurements the CPU path's targets are stated in, and
reports each as quantiles over the rounds with the number of rounds that met it:

* ``bench env``'s paired measurement: the eager task's environment-steps/s over raw MuJoCo's, timed in alternating
  blocks, at each N of ``--envs`` (1024 and 4096) on each thread count of ``--threads`` (2). Target: 90 % on two
  threads, 80 % on more (a 16-core machine).
* ``bench train``'s end-to-end rate of the CPU default (the median over epochs 2..``--epochs`` of a fresh launcher
  process). Target: 8,000 samples/s. Beside it, figures without a target that explain it: the rollout's rate inside
  ``env.step`` (the most the end-to-end rate could be with an update that took no time), raw MuJoCo's rate at the run's
  environment count and threads, built from its task configuration, just before and after the run (the machine's speed
  at the time), and the ceiling ``bench limit`` derives from it: raw MuJoCo's physics plus the bare networks' passes of
  an epoch at the run's sizes (:mod:`isaacgymenvs.bench.limit`), with the end-to-end rate's share of it. Where the
  ceiling is below 8,000 samples/s, this code's building blocks could not have met the target in that round; the closing
  table ends with a line that counts those rounds and how many of the others met the target.

Each round runs the environment measurements and then the training, one after the other (never two timings at once);
nothing else should run meanwhile. ``--csv`` keeps one row per round, rewritten whole after each round. Overrides
after the options go to the training run only (the targets are stated for none).

    python -m isaacgymenvs.bench targets [--rounds 10] [--epochs 8] [--envs 1024 4096] [--threads 2] [--seconds 1]
        [--blocks 5] [--csv PATH] [overrides]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from isaacgymenvs.bench.timing import StolenTime, machine_description
from isaacgymenvs.utils.files import atomic_write

if TYPE_CHECKING:  # torch loads only once the command line is good
    from isaacgymenvs.bench.limit import EpochWork

TRAIN_TARGET = 8000.0  # samples/s end to end, the CPU default on 2 cores


def ratio_target(threads: int) -> float:
    """The eager task's target share of raw MuJoCo's rate on ``threads`` threads: 90 % on two (a laptop's cores), 80 %
    on more, where the fixed per-step work of torch weighs more against the physics spread over many cores."""
    return 0.90 if threads <= 2 else 0.80


class Measure(NamedTuple):
    """One measured quantity of a round: its CSV column, its label in the summary, its target (``None``: reported
    beside the targets, not judged) and how a value prints."""

    column: str
    label: str
    target: float | None
    show: Callable[[float], str]


def _percent(value: float) -> str:
    return f"{value:.0%}"


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def ratio_column(num_envs: int, threads: int) -> str:
    """The CSV column of the eager task's share of raw MuJoCo at ``num_envs`` on ``threads`` threads."""
    return f"eager_raw_{num_envs}_{threads}"


def raw_column(num_envs: int, threads: int) -> str:
    """The CSV column of raw MuJoCo's env-steps/s measured beside that share."""
    return f"raw_{num_envs}_{threads}"


def _threads(count: int) -> str:
    return f"{count} thread" + ("" if count == 1 else "s")


def measures(envs: Sequence[int], threads: Sequence[int]) -> list[Measure]:
    """The quantities of a round, in the order printed: each (N, threads) ratio, then the training's three rates."""
    rows = [
        Measure(ratio_column(n, t), f"eager task / raw MuJoCo, N = {n}, {_threads(t)}", ratio_target(t), _percent)
        for n in envs
        for t in threads
    ]
    return [
        *rows,
        Measure("train_total", "training end to end, samples/s", TRAIN_TARGET, _rate),
        Measure("train_env", "  the rollout alone (inside env.step), env-steps/s", None, _rate),
        Measure("train_raw", "  raw MuJoCo at its environment count, env-steps/s", None, _rate),
        Measure("train_limit", "  the ceiling: that physics plus the bare networks, samples/s", None, _rate),
        Measure("train_share", "  end to end / the ceiling", None, _percent),
    ]


def quartiles(values: Sequence[float]) -> tuple[float, float, float, float, float]:
    """Minimum, lower quartile, median, upper quartile and maximum (quartiles interpolated between the values)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return (ordered[0],) * 5
    lower, median, upper = statistics.quantiles(ordered, n=4, method="inclusive")
    return ordered[0], lower, median, upper, ordered[-1]


def summary(records: list[dict[str, float]], quantities: list[Measure]) -> list[str]:
    """The closing table: per quantity, the rounds that met its target and its quartiles over the rounds."""
    width = max(len(q.label) for q in quantities) + 8
    header = f"{'quantity (target)':<{width}} {'met':>6}" + "".join(
        f" {name:>8}" for name in ("min", "p25", "median", "p75", "max")
    )
    lines = [header]
    for quantity in quantities:
        values = [record[quantity.column] for record in records]
        if quantity.target is None:
            label, met = quantity.label, "-"
        else:
            label = f"{quantity.label} (>= {quantity.show(quantity.target)})"
            met = f"{sum(value >= quantity.target for value in values)}/{len(values)}"
        lines.append(f"{label:<{width}} {met:>6}" + "".join(f" {quantity.show(v):>8}" for v in quartiles(values)))
    if all("train_limit" in record for record in records):
        lines.append(ceiling_verdict(records))
    return lines


def ceiling_verdict(records: list[dict[str, float]]) -> str:
    """One line: in how many rounds the end-to-end target was above the ceiling (out of reach for this code's building
    blocks), and how many of the others met it."""
    reachable = [record for record in records if record["train_limit"] >= TRAIN_TARGET]
    met = sum(record["train_total"] >= TRAIN_TARGET for record in reachable)
    below = len(records) - len(reachable)
    return (
        f"end to end: the ceiling was below {TRAIN_TARGET:,.0f} samples/s in {below} of {len(records)} rounds (the "
        f"target out of reach in them); {met} of the other {len(reachable)} met it"
    )


def write_csv(path: Path, records: list[dict[str, float]], columns: list[str]) -> None:
    """All rounds so far to ``path``, replacing it whole (a reader never sees half a file)."""
    with atomic_write(path, "w") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)


def measure_round(
    envs: Sequence[int],
    threads: Sequence[int],
    seconds: float,
    blocks: int,
    epochs: int,
    overrides: list[str],
    work: EpochWork,
) -> dict[str, float]:
    """One round: the paired environment measurements, then one training run (``overrides``, whose sizes ``work``
    holds) with raw MuJoCo around it, then the bare networks for the ceiling."""
    # The task and MuJoCo load only once the command line is good.
    from isaacgymenvs.bench import env, limit, train

    record: dict[str, float] = {}
    stolen = StolenTime()
    for num_envs in envs:
        for count in threads:
            row = env.measure(num_envs, seconds, count, rounds=blocks)
            record[ratio_column(num_envs, count)] = round(row["eager/raw"], 4)
            record[raw_column(num_envs, count)] = round(row["raw"])
    with env.raw_mujoco_rate(work.num_envs, threads=work.threads, task_config=work.task_config) as raw_rate:
        before = raw_rate(seconds)
        run = train.measure(overrides, epochs)
        record["train_raw"] = round(0.5 * (before + raw_rate(seconds)))
    record["train_total"], record["train_env"] = run["total"], run["env"]
    networks = limit.network_seconds(work)["total"]  # after the run, alone on the machine like the rest
    record["train_limit"] = round(limit.ceiling(work.samples, record["train_raw"], networks))
    record["train_share"] = round(run["total"] / record["train_limit"], 4)
    share = stolen.share()
    if share is not None:
        record["steal"] = round(share, 4)
    return record


def progress_line(
    index: int, rounds: int, record: dict[str, float], envs: Sequence[int], threads: Sequence[int]
) -> str:
    """A round's figures on one line, as the round ends."""
    parts = [
        f"N={n}/{t}t {record[ratio_column(n, t)]:.0%} (raw {record[raw_column(n, t)]:,.0f})"
        for n in envs
        for t in threads
    ]
    parts.append(
        f"train {record['train_total']:,.0f} samples/s (env {record['train_env']:,.0f}, "
        f"raw {record['train_raw']:,.0f}, ceiling {record['train_limit']:,.0f})"
    )
    if "steal" in record:
        parts.append(f"steal {record['steal']:.0%}")
    return f"round {index}/{rounds} {time.strftime('%H:%M:%S', time.gmtime())} UTC | " + " | ".join(parts)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench targets", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of measurements (10)")
    parser.add_argument("--epochs", type=int, default=8, help="training epochs per round; epochs 2.. count (8)")
    parser.add_argument("--envs", type=int, nargs="+", default=[1024, 4096], help="task sizes (1024 4096)")
    parser.add_argument("--threads", type=int, nargs="+", default=[2], help="thread counts; 0: every core (2)")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each timed block (1)")
    parser.add_argument("--blocks", type=int, default=5, help="alternating blocks of task and raw MuJoCo (5)")
    parser.add_argument("--csv", type=Path, default=None, help="one row per round, rewritten after each round")
    parser.add_argument("overrides", nargs="*", help="extra overrides for the training run")
    args = parser.parse_args(argv)
    if args.rounds <= 0 or args.blocks <= 0 or args.seconds <= 0:
        parser.error("--rounds, --blocks and --seconds must be positive")
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2 (the first epoch is not counted), got {args.epochs}")
    if any(n <= 0 for n in args.envs) or any(t < 0 for t in args.threads):
        parser.error("--envs must be positive and --threads >= 0 (0: every core)")
    if args.csv is not None and not args.csv.parent.is_dir():
        parser.error(f"--csv: folder {args.csv.parent} does not exist; create it or choose another path")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    from isaacgymenvs.bench.env import thread_counts
    from isaacgymenvs.bench.limit import checked_work

    work = checked_work(args.overrides)  # the training's sizes, refused in one line before anything is measured
    if isinstance(work, int):
        return work

    threads = thread_counts(args.threads)
    quantities = measures(args.envs, threads)
    what = f"the launcher's configuration with {' '.join(args.overrides)}" if args.overrides else "the CPU default"
    print(machine_description())
    print(
        f"{args.rounds} rounds; per round: the eager task against raw MuJoCo ({args.blocks} alternating blocks of "
        f"{args.seconds:g} s) at N = {', '.join(map(str, args.envs))} on {', '.join(map(str, threads))} threads, "
        f"then {what} trained for {args.epochs} epochs (median of epochs 2..{args.epochs})",
        flush=True,
    )
    records: list[dict[str, float]] = []
    for index in range(1, args.rounds + 1):
        try:
            record = measure_round(args.envs, threads, args.seconds, args.blocks, args.epochs, args.overrides, work)
        except RuntimeError as error:  # the training run failed: its exit status and last error line
            print(f"error: round {index}: {error}", file=sys.stderr)
            return 1
        records.append(record)
        print(progress_line(index, args.rounds, record, args.envs, threads), flush=True)
        if args.csv is not None:
            columns = ["round", *dict.fromkeys(key for row in records for key in row)]
            write_csv(args.csv, [{"round": i, **row} for i, row in enumerate(records, start=1)], columns)
    print("\n".join(summary(records, quantities)), flush=True)
    return 0
