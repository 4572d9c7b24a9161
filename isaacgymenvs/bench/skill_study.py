"""The time-to-skill study: one variable at a time against the default, each variant trained by ``bench skill`` with
the same budget and seed, then compared in one table and one plot (``docs/time_to_skill.md``).

    python -m isaacgymenvs.bench study --samples 4000000 --out runs/study [--variants baseline,uncapped,...]
        [--seed 42] [--report-only]

Each variant runs in its own process, one after another (never two trainings at once), into ``OUT/<variant>/``; a
variant that reached its budget is not run again, so a stopped study resumes where it was. ``OUT/compare.md`` and
``OUT/compare.png`` compare them by samples (the training-minute figures of each run are in its own ``skill.csv``).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

from isaacgymenvs.bench.runs import PROJECT_ROOT
from isaacgymenvs.bench.skill_report import SkillCsvError, finite_median, read_rows

REFERENCE_RUN_CLIP = PROJECT_ROOT.parent / "shared" / "reference_data" / "amp_humanoid_run.npy"

# name: (what differs from the default, overrides). One variable each; the default is today's configuration.
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "baseline": ("today's defaults (CPU sizes, DeepMimic run clip)", []),
    "uncapped": (
        "PD servo torques not capped at the motor gear (the default since the first study)",
        ["task.sim.mujoco.actuator_force_limits=False"],
    ),
    "capped": (
        "PD servo torques capped at the motor gear (the original's reading)",
        ["task.sim.mujoco.actuator_force_limits=True"],
    ),
    "no_self_collisions": ("the character's bodies do not collide", ["task.sim.mujoco.self_collisions=False"]),
    "logit_init_0.01": (
        "discriminator logit weights initialised in +-0.01",
        ["train.params.network.disc.logit_init_scale=0.01"],
    ),
    "lr_2e-4": (
        "learning rate 2e-4 instead of 5e-5 (the CPU default since the gait study)",
        ["train.params.config.learning_rate=2e-4"],
    ),
    "lr_5e-5": ("the original's learning rate 5e-5", ["train.params.config.learning_rate=5e-5"]),
    "mini_epochs_8": ("8 mini-epochs per epoch instead of 4", ["train.params.config.mini_epochs=8"]),
    "horizon_16": (
        "16-step rollouts, 8,192 samples per epoch (the default since the first study)",
        ["train.params.config.horizon_length=16"],
    ),
    "mask_constant": (
        "AMP features constant in the clip (DeepMimic's frozen neck) masked for the discriminator (the CPU default "
        "since the window study)",
        ["train.params.config.amp_mask_constant_features=True"],
    ),
    "no_mask": (
        "every AMP feature seen by the discriminator (the original's)",
        ["train.params.config.amp_mask_constant_features=False"],
    ),
    "uncapped_horizon_16": (
        "uncapped servos and 16-step rollouts together (the defaults since the first study)",
        ["task.sim.mujoco.actuator_force_limits=False", "train.params.config.horizon_length=16"],
    ),
    "sigma_0.1": (
        "policy noise sigma 0.1 instead of 0.055 (fixed log-std -2.3 instead of -2.9)",
        ["train.params.network.space.continuous.sigma_init.val=-2.3"],
    ),
    "amp_window_2": ("the discriminator sees 2 control steps (0.07 s), the original's", ["task.env.numAMPObsSteps=2"]),
    "amp_window_4": ("the discriminator sees 4 control steps (0.13 s)", ["task.env.numAMPObsSteps=4"]),
    "amp_window_5": (
        "the discriminator sees 5 control steps (0.17 s; the CPU default since the window study)",
        ["task.env.numAMPObsSteps=5"],
    ),
    "amp_window_10": ("the discriminator sees 10 control steps (0.33 s)", ["task.env.numAMPObsSteps=10"]),
    "least_squares": (
        "the AMP paper's least-squares discriminator instead of the original's logistic one (the CPU default since "
        "the gait study)",
        ["train.params.config.disc_reward_type=least_squares"],
    ),
    "logistic": ("the original's logistic (BCE) discriminator", ["train.params.config.disc_reward_type=log"]),
    "cmu_run": ("the original's CMU run clip (reference data)", [f"task.env.motion_file={REFERENCE_RUN_CLIP}"]),
}
# Episode length and fall rate are compared at these sample counts (the closest evaluation at or before each).
CHECKPOINTS_M = (0.5, 1.0, 1.5, 2.0, 2.5, 4.0, 8.0, 16.0)


def run_variant(name: str, samples: int, out: Path, seed: int, extra: list[str]) -> None:
    """Train and evaluate one variant with ``bench skill`` in a fresh process (its output echoed)."""
    overrides = VARIANTS[name][1]
    command = [
        sys.executable,
        "-m",
        "isaacgymenvs.bench",
        "skill",
        *overrides,
        *extra,
        f"seed={seed}",
        "--samples",
        str(samples),
        "--out",
        str(out / name),
    ]
    print(f"study: {name}: {' '.join(command[3:])}", flush=True)
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})


def _finished(folder: Path, samples: int) -> bool:
    """Whether a variant's run reached its budget (a run stopped by hand has a summary too, but fewer samples)."""
    if not (folder / "summary.txt").is_file() or not (folder / "skill.csv").is_file():
        return False
    rows = read_rows(folder / "skill.csv")
    return bool(rows) and rows[-1]["samples"] >= samples


def _at(rows: list[dict[str, float]], samples: float, key: str) -> float:
    """``key`` at the last evaluation with at most ``samples`` samples (nan before the first or past the run)."""
    if not rows or rows[-1]["samples"] < 0.95 * samples:
        return math.nan
    before = [row for row in rows if row["samples"] <= samples * 1.02]
    return before[-1][key] if before else math.nan


def _first(rows: list[dict[str, float]], key: str) -> str:
    met = [row for row in rows if row[key] == 1.0]
    return f"{met[0]['samples'] / 1e6:.1f} M / {met[0]['train_minutes']:.0f} min" if met else "not reached"


def _stride_ratio(row: dict[str, float]) -> float:
    clip = row["clip_stride_length_m"]
    return row["stride_length_m"] / clip if clip > 0 else math.nan


def _late_gait(rows: list[dict[str, float]]) -> list[str]:
    """Median speed and stride against the clip's, and median DTW hand/foot error, over the evaluations in the last
    quarter of a run's samples (single evaluations are noisy); blank where a run never stood long enough to step."""
    late = [row for row in rows if row["samples"] >= 0.75 * rows[-1]["samples"]]
    medians = [
        finite_median(row[key] / row[f"clip_{key}"] if row[f"clip_{key}"] > 0 else math.nan for row in late)
        for key in ("forward_speed_mps", "stride_length_m")
    ]
    medians.append(finite_median(row["key_body_error_m"] for row in late))
    return [
        "" if not math.isfinite(value) else f"{value:.{digits}f}"
        for value, digits in zip(medians, (2, 2, 3), strict=True)
    ]


def compare(out: Path, names: list[str], samples: float | None = None) -> list[str]:
    """The comparison table (markdown lines) of the variants that have a ``skill.csv``; also ``compare.png``.

    With ``samples``, a run's evaluations past it (2 % slack) are left out, so a longer run of the same configuration
    (the 60-minute baseline, say) is compared within the study's budget."""
    runs = {name: read_rows(out / name / "skill.csv") for name in names if (out / name / "skill.csv").is_file()}
    if samples is not None:
        runs = {name: [row for row in rows if row["samples"] <= 1.02 * samples] for name, rows in runs.items()}
    runs = {name: rows for name, rows in runs.items() if rows}
    reach = max((rows[-1]["samples"] for rows in runs.values()), default=0.0)
    checkpoints = [m for m in CHECKPOINTS_M if m * 1e6 <= 1.05 * reach]  # no columns past the longest run
    header = ["variant", "what differs"]
    header += [f"ep. length @{m:g} M" for m in checkpoints] + ["best ep. length", "fall rate (last)", "samples/min"]
    header += ["stands", "imitates", "speed / clip (last 1/4)", "stride / clip (last 1/4)", "DTW m (last 1/4)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, rows in runs.items():
        last = rows[-1]
        lengths = [_at(rows, m * 1e6, "mean_episode_length") for m in checkpoints]
        rate = last["samples"] / last["train_minutes"] if last["train_minutes"] > 0 else math.nan
        cells = [name, VARIANTS[name][0], *(f"{v:.1f}" if math.isfinite(v) else "" for v in lengths)]
        cells += [f"{max(row['mean_episode_length'] for row in rows):.1f}", f"{last['fall_rate']:.2f}", f"{rate:,.0f}"]
        cells += [_first(rows, "stands"), _first(rows, "imitates"), *_late_gait(rows)]
        lines.append("| " + " | ".join(cells) + " |")
    _plot(runs, out / "compare.png")
    return lines


def _plot(runs: dict[str, list[dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = (
        ("mean_episode_length", "mean episode length (steps)"),
        ("fall_rate", "fall rate"),
        ("key_body_error_m", "DTW hand/foot error (m)"),
        ("forward_speed_mps", "forward speed (m/s)"),
        ("stride_ratio", "stride / clip's"),  # derived from two columns
    )
    figure, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4))
    for axis, (key, label) in zip(axes, keys, strict=True):
        for name, rows in runs.items():
            values = [row[key] if key in row else _stride_ratio(row) for row in rows]
            axis.plot([row["samples"] / 1e6 for row in rows], values, label=name)
        axis.set_xlabel("samples (M)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench study", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4_000_000, help="samples per variant (default 4 M)")
    parser.add_argument("--out", type=Path, default=Path("runs") / "study", help="study folder (default runs/study)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--report-only", action="store_true", help="only compare the variants already run")
    parser.add_argument("overrides", nargs="*", help="overrides added to every variant")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        print(f"error: unknown variants {unknown}; choices: {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    if "cmu_run" in names and not REFERENCE_RUN_CLIP.is_file():
        print(f"note: {REFERENCE_RUN_CLIP} not found: the cmu_run variant is skipped", flush=True)
        names.remove("cmu_run")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        for name in names if not args.report_only else []:
            if _finished(args.out / name, args.samples):
                print(f"study: {name}: done before, kept", flush=True)
                continue
            if (args.out / name).exists():  # an interrupted run: start it again
                shutil.rmtree(args.out / name)
            run_variant(name, args.samples, args.out, args.seed, args.overrides)
        lines = compare(args.out, names, args.samples)
    except SkillCsvError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    (args.out / "compare.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"study: {args.out / 'compare.md'}, {args.out / 'compare.png'}")
    return 0
