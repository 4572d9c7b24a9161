"""Time to skill: the samples and training minutes a configuration needs until its policy stands, and until it
imitates its clip.

    python -m isaacgymenvs.bench skill [overrides ...] (--minutes M | --samples S) [--until stands|imitates]
        [--eval-every K] [--episodes E] [--eval-envs N] [--out DIR]
    python -m isaacgymenvs.bench skill --report DIR [--from-minutes M] [--table-every K]

It trains with the launcher's config (the Hydra overrides of ``launch.py``) in this process and, every K epochs and
after the last, evaluates the current policy on a task of its own (same task config and clip, N environments, built
once): deterministic actions (the mean), E episodes of up to the task's full length (300 steps, 10 s), each
environment contributing its first episode of a round, scored by :mod:`isaacgymenvs.eval`
(:mod:`isaacgymenvs.bench.skill_observer`). Evaluating does not change training, and its time is not training time.
With ``--until``, training also ends at the first evaluation that meets that threshold (the budget is then a cap).

Thresholds (:mod:`isaacgymenvs.bench.skill_report`; the same for any clip, ``task.env.motion_file=``):

* stands: deterministic fall rate <= 5 %;
* imitates: stands, forward speed and median stride within 10 % of the clip's (never tighter than 0.1 m/s and 0.1 m:
  clips that hardly move forward), and DTW hand/foot position error <= 0.08 m.

Outputs in DIR (default ``runs/skill_<date_time>``): ``skill.csv`` (one row per evaluation), ``skill.png`` (each
metric against samples and against training minutes) and ``summary.txt`` (the lines printed at the end), beside the
training run's own ``nn/``, ``summaries/`` (with the evaluations under ``skill/``) and ``config.yaml``.

``--report DIR`` trains nothing: it reads an earlier run's ``skill.csv`` and prints its summary, how the evaluations
from training minute M on (default: the last quarter of the run's training minutes) fare against each part of
``imitates`` with their medians (does a gait, once reached, hold?), and a markdown table of every K-th epoch
(default 200) with the firsts and the last.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from isaacgymenvs.bench.skill_report import (
    SkillCsvError,
    epoch_table,
    plot,
    read_rows,
    summary_lines,
    window_lines,
)
from isaacgymenvs.utils.overrides import override_keys

# Heavy modules (torch, the task, rl_games) are imported once the command line has been read, so that a mistake on it
# is answered at once.
DEFAULT_EVAL_EVERY = 20  # epochs; about 50 s of training between evaluations with the CPU defaults
DEFAULT_EPISODES = 32
DEFAULT_EVAL_ENVS = 32


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, as for every other bad input
        raise _BadInputError(message)


class _BadInputError(ValueError):
    """A bad option of this command (exit status 2)."""


def _parse(arguments: list[str]) -> tuple[argparse.Namespace, list[str]]:
    overrides = [a for a in arguments if "=" in a and not a.startswith("-")]
    parser = _Parser(prog="python -m isaacgymenvs.bench skill", description=__doc__.splitlines()[0])
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float, help="training minutes (evaluation excluded)")
    budget.add_argument("--samples", type=int, help="environment samples")
    parser.add_argument(
        "--until", choices=("stands", "imitates"), help="also end training once an evaluation meets this threshold"
    )
    parser.add_argument("--eval-every", type=int, help=f"epochs between evaluations (default {DEFAULT_EVAL_EVERY})")
    parser.add_argument("--episodes", type=int, help=f"episodes per evaluation (default {DEFAULT_EPISODES})")
    parser.add_argument("--eval-envs", type=int, help=f"environments of the evaluation (default {DEFAULT_EVAL_ENVS})")
    parser.add_argument("--out", type=Path, help="output folder (default runs/skill_<date_time>)")
    budget.add_argument("--report", type=Path, metavar="DIR", help="train nothing; report the run in DIR")
    parser.add_argument(
        "--from-minutes", type=float, help="with --report: the late window's start (default: its last quarter)"
    )
    parser.add_argument(
        "--table-every",
        type=int,
        help="with --report: epochs between table rows (default 200; a multiple of --eval-every)",
    )
    options = parser.parse_args([a for a in arguments if a not in overrides])
    training_only = ("until", "eval_every", "episodes", "eval_envs", "out")
    if options.report is not None:
        given = [f"--{name.replace('_', '-')}" for name in training_only if getattr(options, name) is not None]
        if overrides or given:
            raise _BadInputError(f"--report reads a finished run; drop {', '.join(given + overrides)}")
        if options.from_minutes is not None and not options.from_minutes >= 0:
            raise _BadInputError(f"--from-minutes must be 0 or more, got {options.from_minutes:g}")
        options.table_every = 200 if options.table_every is None else options.table_every
        if not options.table_every > 0:
            raise _BadInputError(f"--table-every must be positive, got {options.table_every}")
        if not (options.report / "skill.csv").is_file():
            raise _BadInputError(f"no skill.csv in {options.report}; give the --out folder of a bench skill run")
        return options, overrides
    for name in ("from_minutes", "table_every"):
        if getattr(options, name) is not None:
            raise _BadInputError(f"--{name.replace('_', '-')} applies to --report only")
    defaults = {"eval_every": DEFAULT_EVAL_EVERY, "episodes": DEFAULT_EPISODES, "eval_envs": DEFAULT_EVAL_ENVS}
    for name, default in defaults.items():
        if getattr(options, name) is None:
            setattr(options, name, default)
    for name in ("minutes", "samples", "eval_every", "episodes", "eval_envs"):
        value = getattr(options, name)
        if value is not None and not value > 0:
            raise _BadInputError(f"--{name.replace('_', '-')} must be positive, got {value:g}")
    if "experiment" in override_keys(overrides):
        raise _BadInputError("experiment= is set by this benchmark; choose the output folder with --out")
    options.out = options.out or Path("runs") / f"skill_{datetime.now().strftime('%Y-%m-%d_%H-%M-%S')}"
    if options.out.exists() and any(options.out.iterdir()):
        raise _BadInputError(f"output folder {options.out} is not empty; choose another with --out")
    return options, overrides


def _prepare(options: argparse.Namespace, overrides: list[str]) -> tuple[Any, Any, str]:
    """The launcher's config for this run (budget and output folder set) and the evaluation; everything a bad
    command line can break is checked here, before anything is written."""
    # The command line sits above the launcher, as isaacgymenvs.eval's does: it composes and runs the same config.
    from isaacgymenvs.bench.skill_observer import EVAL_SEED, PolicyEvaluation
    from isaacgymenvs.launcher import _resolve, compose
    from isaacgymenvs.learning.amp_config import check_train_params
    from isaacgymenvs.tasks.amp.humanoid_amp_config import HumanoidAMPConfig

    cfg = compose(overrides)
    config = _resolve(cfg)
    for key, why in (("test", "it trains"), ("checkpoint", "it trains from scratch"), ("multi_gpu", "one process")):
        if config[key]:
            raise _BadInputError(f"{key}= does not apply to bench skill ({why}); drop it")
    HumanoidAMPConfig.from_cfg(config["task"])
    train_config = config["train"]["params"]["config"]
    check_train_params(config["train"]["params"], config["task"]["env"]["numEnvs"])
    user_cap = "max_iterations" in override_keys(overrides)
    epochs = train_config["max_epochs"] if user_cap else -1
    if options.samples is not None:  # the progress lines then show the epochs to go
        needed = math.ceil(options.samples / (train_config["horizon_length"] * config["task"]["env"]["numEnvs"]))
        epochs = min(epochs, needed) if user_cap and epochs != -1 else needed
    cfg.max_iterations = epochs
    # The launcher writes to <runs_dir>/<experiment>: the output folder itself. Checkpoints are then nn/skill*.pth.
    cfg.experiment = options.out.resolve().name
    cfg.train.params.config.name = "skill"
    evaluation = PolicyEvaluation(
        config["task"], config["rl_device"], config["sim_device"], options.eval_envs, options.episodes, EVAL_SEED
    )
    return cfg, evaluation, str(config["task"]["env"]["motion_file"])


def report(folder: Path, from_minutes: float | None, table_every: int) -> list[str]:
    """The lines ``--report`` prints for the run in ``folder`` (see the module docstring); :class:`SkillCsvError` for
    a CSV without evaluations or not written by this benchmark."""
    rows = read_rows(folder / "skill.csv")
    if not rows:
        raise SkillCsvError(f"{folder / 'skill.csv'} holds no evaluation yet")
    last = rows[-1]
    clip = "the clip"
    config = folder / "config.yaml"
    if config.is_file():  # the launcher's resolved config, beside the CSV
        import yaml

        try:
            clip = str(yaml.safe_load(config.read_text())["task"]["env"]["motion_file"])
        except (yaml.YAMLError, KeyError, TypeError):
            clip = f"the clip (unreadable {config.name})"
    # The totals of training are not in the CSV: the last evaluation stands for them.
    lines = summary_lines(rows, clip, int(last["episodes"]), None)
    lines.append(
        f"last evaluation: epoch {last['epoch']}, {last['samples']:,} samples, {last['train_minutes']:.2f} training "
        "minutes"
    )
    start = 0.75 * last["train_minutes"] if from_minutes is None else from_minutes
    return [*lines, "", *window_lines(rows, start), "", *epoch_table(rows, table_every)]


def main(argv: list[str] | None = None) -> int:
    try:
        options, overrides = _parse(list(sys.argv[1:] if argv is None else argv))
    except _BadInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if options.report is not None:
        try:
            print("\n".join(report(options.report, options.from_minutes, options.table_every)))
        except SkillCsvError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    from isaacgymenvs.bench.skill_observer import SkillObserver
    from isaacgymenvs.launcher import RUN_INPUT_ERRORS, UsageError, run
    from isaacgymenvs.learning.run_control import TrainingInterrupted

    # The launcher's one-line errors, RUN_INPUT_ERRORS (checkpoint= is refused, so no checkpoint errors).
    try:
        cfg, evaluation, clip = _prepare(options, overrides)
    except (_BadInputError, UsageError, *RUN_INPUT_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, _BadInputError | UsageError) else 1
    out, existed = options.out, options.out.exists()
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "skill.csv"
    observer = SkillObserver(
        evaluation, options.eval_every, csv_path, options.minutes, options.samples, until=options.until
    )
    budget = f"{options.minutes:g} training minutes" if options.minutes else f"{options.samples:,} samples"
    budget += f" or until it {options.until}" if options.until else ""
    print(
        f"bench skill: {clip}, {budget}; evaluating every {options.eval_every} epochs on {options.episodes} episodes "
        f"in {evaluation.task.num_envs} environments; output in {out}",
        flush=True,
    )
    status = 0
    try:
        run(cfg, algo_observer=observer, runs_dir=str(out.resolve().parent))
    except (UsageError, *RUN_INPUT_ERRORS) as error:
        shutil.rmtree(out, ignore_errors=True)  # nothing half-written
        if existed:
            out.mkdir()
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (TrainingInterrupted, KeyboardInterrupt) as stop:  # a study stopped by hand still gets its plot and summary
        saved = f"; saved {stop.checkpoint}" if getattr(stop, "checkpoint", None) else ""
        print(f"{stop or 'interrupted'}{saved}: reporting the evaluations so far", file=sys.stderr)
        status = 128 + getattr(stop, "signal_number", 2)
    lines = summary_lines(observer.rows, clip, options.episodes, observer.trained)
    if observer.met_until:
        lines.insert(-1, f"stopped early: {options.until} met (--until {options.until}), before the budget")
    if observer.rows:
        plot(observer.rows, clip, out / "skill.png")
    lines.append(f"outputs: {csv_path}, {out / 'skill.png'}, {out / 'nn'}, {out / 'summaries'}")
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    return status
