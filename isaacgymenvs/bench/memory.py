"""Resident memory of training: the peak for several environment counts, and the course of a long run.

    python -m isaacgymenvs.bench memory [--envs 512,4096,8192] [--epochs-after-fill 2] [overrides]
    python -m isaacgymenvs.bench memory --watch [--interval 10] [--warmup-minutes 5] [--csv F] -- COMMAND ...

Without ``--watch``, each environment count trains ``launch.py`` (CPU defaults unless overridden) in a fresh process
in a temporary folder until the AMP replay buffer is full (its storage is allocated lazily, so memory grows until
then) and ``--epochs-after-fill`` epochs more, and reports the process's peak resident set (``VmHWM``), sampled
twice a second as a check, and the sizes it was run with. With ``--watch`` it runs any command (for example a
30-minute ``bench skill``), samples the resident memory of the command and all its child processes every
``--interval`` seconds into a CSV, and reports the peak and the growth after the warm-up: (last - at warm-up) / at
warm-up, where "at warm-up" is the first sample after ``--warmup-minutes``.

Linux only (reads ``/proc``).
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from isaacgymenvs.bench.runs import PROJECT_ROOT
from isaacgymenvs.bench.timing import machine_description

REPLAY_BUFFER_KEY = "train.params.config.amp_replay_buffer_size"
HORIZON_KEY = "train.params.config.horizon_length"
# The CPU defaults (cfg/train/HumanoidAMPPPO.yaml) used to size the run when the command line does not set them.
CPU_REPLAY_BUFFER = 200_000
CPU_HORIZON = 32


def _status_kib(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` field in KiB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (through ``/proc/<pid>/task/*/children``)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                kids = [int(text) for text in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found += kids
            pending += kids
    return found


def tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants in MiB."""
    return sum(_status_kib(each, "VmRSS") for each in [pid, *_children(pid)]) / 1024


def _override(overrides: list[str], key: str, default: int) -> int:
    for item in overrides:
        if item.startswith(key + "="):
            return int(item.split("=", 1)[1])
    return default


def peak_for(envs: int, epochs_after_fill: int, overrides: list[str]) -> dict[str, float]:
    """Train ``envs`` environments until the replay buffer is full plus ``epochs_after_fill`` epochs; peak RSS."""
    horizon = _override(overrides, HORIZON_KEY, CPU_HORIZON)
    replay = _override(overrides, REPLAY_BUFFER_KEY, CPU_REPLAY_BUFFER)
    epochs = math.ceil(replay / (envs * horizon)) + epochs_after_fill
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as folder:
        command = [sys.executable, str(PROJECT_ROOT / "launch.py"), "task=HumanoidAMP", f"num_envs={envs}"]
        command += [f"max_iterations={epochs}", "experiment=memory", "headless=True", *overrides]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sampled = high_water = 0.0
        while process.poll() is None:
            sampled = max(sampled, tree_rss_mib(process.pid))
            high_water = max(high_water, _status_kib(process.pid, "VmHWM") / 1024)
            time.sleep(0.5)
        stderr = process.stderr.read() if process.stderr else ""
        if process.returncode != 0:
            raise RuntimeError(f"{envs} envs: launch.py exited with {process.returncode}: {stderr.strip()[-300:]}")
    return {
        "envs": envs,
        "epochs": epochs,
        "peak_mib": max(high_water, sampled),
        "sampled_peak_mib": sampled,
        "seconds": time.perf_counter() - started,
    }


def watch(command: list[str], interval: float, warmup_minutes: float, csv_path: Path) -> dict[str, float]:
    """Run ``command``, writing (minutes, rss_mib) rows every ``interval`` s; its peak and growth after warm-up."""
    started = time.perf_counter()
    process = subprocess.Popen(command)
    rows: list[tuple[float, float]] = []
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["minutes", "rss_mib"])
        while process.poll() is None:
            rss = tree_rss_mib(process.pid)
            if rss >= 1.0:  # a process that has only just started (exec not done) is skipped
                rows.append(((time.perf_counter() - started) / 60, rss))
                writer.writerow([f"{rows[-1][0]:.3f}", f"{rss:.1f}"])
                stream.flush()
            deadline = time.perf_counter() + interval
            while process.poll() is None and time.perf_counter() < deadline:
                time.sleep(0.2)
    after = [rss for minutes, rss in rows if minutes >= warmup_minutes]
    growth = (after[-1] - after[0]) / after[0] if len(after) >= 2 else math.nan
    return {
        "returncode": process.returncode,
        "minutes": (time.perf_counter() - started) / 60,
        "peak_mib": max((rss for _, rss in rows), default=math.nan),
        "at_warmup_mib": after[0] if after else math.nan,
        "last_mib": after[-1] if after else math.nan,
        "growth": growth,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench memory", description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default="512,4096,8192", help="environment counts (default 512,4096,8192)")
    parser.add_argument("--epochs-after-fill", type=int, default=2, help="epochs after the replay buffer is full")
    parser.add_argument("--watch", action="store_true", help="sample the memory of the command after --")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples (--watch)")
    parser.add_argument("--warmup-minutes", type=float, default=5.0, help="growth is measured after this (--watch)")
    parser.add_argument("--csv", type=Path, default=Path("runs") / "memory_watch.csv", help="samples (--watch)")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="overrides, or with --watch: -- COMMAND ...")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").is_file():
        print("error: bench memory reads /proc and runs on Linux only", file=sys.stderr)
        return 2
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    if args.watch:
        if not rest:
            print("error: --watch needs a command after --, e.g. -- python launch.py task=HumanoidAMP", file=sys.stderr)
            return 2
        if args.interval <= 0 or args.warmup_minutes < 0:
            print("error: --interval must be positive and --warmup-minutes not negative", file=sys.stderr)
            return 2
        result = watch(rest, args.interval, args.warmup_minutes, args.csv)
        print(f"memory: {' '.join(rest)}")
        print(
            f"  {result['minutes']:.1f} min, exit {result['returncode']}: peak {result['peak_mib']:,.0f} MiB; "
            f"after {args.warmup_minutes:g} min {result['at_warmup_mib']:,.0f} MiB, at the end "
            f"{result['last_mib']:,.0f} MiB: growth {100 * result['growth']:+.1f} %; samples in {args.csv}"
        )
        return 0 if result["returncode"] == 0 else 1
    try:
        counts = [int(text) for text in args.envs.split(",") if text.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) <= 0:
        print(f"error: --envs {args.envs!r} must be positive integers separated by commas", file=sys.stderr)
        return 2
    print(f"memory: peak resident set of training; {machine_description()}; overrides: {' '.join(rest) or 'none'}")
    print("| environments | epochs | peak RSS (MiB) | run (s) |\n|---:|---:|---:|---:|", flush=True)
    for envs in counts:
        try:
            result = peak_for(envs, args.epochs_after_fill, rest)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"| {envs} | {result['epochs']} | {result['peak_mib']:,.0f} | {result['seconds']:.0f} |", flush=True)
    return 0
