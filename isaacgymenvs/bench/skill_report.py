"""The time-to-skill benchmark's thresholds and reports: which evaluations meet ``stands`` and ``imitates``, the CSV
rows, the progress line, the summary and the plot (``python -m isaacgymenvs.bench skill``; no simulator here).

An evaluation is a row: a dict of the CSV :data:`COLUMNS` (the metrics of :func:`isaacgymenvs.eval.evaluate.summarize`
plus the epoch, samples, training minutes, evaluation time and the clip's gait).
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

STANDS_FALL_RATE = 0.05  # deterministic fall rate, at most
GAIT_TOLERANCE = 0.10  # forward speed and median stride within this share of the clip's ...
SPEED_FLOOR = 0.1  # m/s ... or of this, whichever is larger: 10 % of a clip that hardly moves forward is noise
STRIDE_FLOOR = 0.1  # m
DTW_LIMIT = 0.08  # m, DTW hand/foot position error, at most
_SLACK = 1e-9  # a value exactly on a threshold meets it, whatever the rounding

STANDS_TEXT = f"fall rate <= {STANDS_FALL_RATE * 100:g} %"
IMITATES_TEXT = (
    f"stands; speed and stride within {GAIT_TOLERANCE * 100:g} % of the clip's; DTW hand/foot error <= {DTW_LIMIT:g} m"
)

COLUMNS = (
    "epoch",
    "samples",
    "train_minutes",
    "wall_minutes",
    "eval_seconds",
    "episodes",
    "fall_rate",
    "mean_episode_length",
    "forward_speed_mps",
    "clip_forward_speed_mps",
    "stride_length_m",
    "clip_stride_length_m",
    "key_body_error_m",
    "classifier_accuracy",
    "joint_rotation_error_rad",
    "key_body_velocity_error_mps",
    "frechet_distance",
    "normalized_jerk",
    "foot_skate_mps",
    "stands",
    "imitates",
)
Row = dict[str, float]


class Trained(NamedTuple):
    """How far training went: epochs, environment samples and training seconds (evaluation excluded)."""

    epochs: int
    samples: int
    seconds: float


def within(value: float, target: float, floor: float) -> bool:
    """``value`` within :data:`GAIT_TOLERANCE` of ``target`` (or within ``floor``, whichever is wider). A target of nan
    (a clip without a complete swing has no stride) asks nothing; a value of nan fails any other target."""
    if not math.isfinite(target):
        return True
    if not math.isfinite(value):
        return False
    return abs(value - target) <= max(GAIT_TOLERANCE * abs(target), floor) + _SLACK


def stands(row: Row) -> bool:
    """The deterministic policy falls in at most :data:`STANDS_FALL_RATE` of its episodes."""
    return row["fall_rate"] <= STANDS_FALL_RATE + _SLACK


def speed_matches(row: Row) -> bool:
    """The forward speed is the clip's (:func:`within`)."""
    return within(row["forward_speed_mps"], row["clip_forward_speed_mps"], SPEED_FLOOR)


def stride_matches(row: Row) -> bool:
    """The median stride is the clip's (:func:`within`)."""
    return within(row["stride_length_m"], row["clip_stride_length_m"], STRIDE_FLOOR)


def poses_match(row: Row) -> bool:
    """The DTW hand/foot position error is at most :data:`DTW_LIMIT`."""
    return row["key_body_error_m"] <= DTW_LIMIT + _SLACK


def imitates(row: Row) -> bool:
    """:func:`stands`, with the clip's forward speed and stride and its hand and foot poses (the three tests above)."""
    return stands(row) and speed_matches(row) and stride_matches(row) and poses_match(row)


def first_met(rows: list[Row], test: Callable[[Row], bool]) -> Row | None:
    """The first evaluation that passes ``test`` (None if none does)."""
    return next((row for row in rows if test(row)), None)


def append_row(path: Path, row: Row) -> None:
    """Append ``row`` to the CSV at ``path`` (with the header when the file is new); written as it comes, so that a
    long run stopped early keeps its evaluations."""
    new = not path.exists()
    with path.open("a", newline="") as stream:
        writer = csv.writer(stream)
        if new:
            writer.writerow(COLUMNS)
        writer.writerow([_cell(row.get(column, math.nan)) for column in COLUMNS])


def _cell(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def _number(value: float, template: str, unit: str = "") -> str:
    return "n/a" if not math.isfinite(value) else template.format(value) + unit


def format_progress(row: Row) -> str:
    """The one-line report of an evaluation."""
    return (
        f"skill | epoch {row['epoch']} | {row['samples']:,} samples | {row['train_minutes']:.2f} train min | "
        f"fall rate {row['fall_rate']:.2f} | length {row['mean_episode_length']:.1f} | "
        f"speed {_number(row['forward_speed_mps'], '{:.2f}', ' m/s')} "
        f"(clip {_number(row['clip_forward_speed_mps'], '{:.2f}')}) | "
        f"stride {_number(row['stride_length_m'], '{:.2f}', ' m')} "
        f"(clip {_number(row['clip_stride_length_m'], '{:.2f}')}) | "
        f"DTW {row['key_body_error_m']:.3f} m | classifier {row['classifier_accuracy']:.2f} | "
        f"stands {'yes' if row['stands'] else 'no'} | imitates {'yes' if row['imitates'] else 'no'} | "
        f"eval {row['eval_seconds']:.1f} s"
    )


def _met(row: Row) -> str:
    return f"{row['samples']:,} samples, {row['train_minutes']:.2f} training minutes (epoch {row['epoch']})"


def _closest(rows: list[Row], key: str, clip_key: str) -> Row | None:
    """The row whose ``key`` is relatively closest to the clip's (None when no row has a value)."""
    known = [row for row in rows if math.isfinite(row[key])]
    return min(known, key=lambda row: abs(row[key] - row[clip_key]) / max(abs(row[clip_key]), 1e-9), default=None)


def summary_lines(rows: list[Row], clip: str, episodes: int, trained: Trained | None) -> list[str]:
    """For ``stands`` and ``imitates``: the samples and training minutes at the first evaluation that met it, or "not
    reached" with the best values seen (for ``imitates``, among the evaluations that stand); then, given ``trained``,
    the totals of training and evaluation."""
    lines = [f"time to skill on {clip} ({episodes} episodes per evaluation, deterministic actions):"]
    if not rows:
        return [*lines, "  no evaluation yet"]
    standing = first_met(rows, stands)
    best_fall = min(rows, key=lambda row: row["fall_rate"])
    lines.append(
        f"  stands   ({STANDS_TEXT}): "
        + (
            _met(standing)
            if standing
            else f"not reached; best fall rate {best_fall['fall_rate']:.2f} (epoch {best_fall['epoch']})"
        )
    )
    imitating = first_met(rows, imitates)
    if imitating:
        lines.append(f"  imitates ({IMITATES_TEXT}): {_met(imitating)}")
    elif standing is None:  # the gait of episodes that end in a fall within a second says nothing
        lines.append(f"  imitates ({IMITATES_TEXT}): not reached; never stood")
    else:
        upright = [row for row in rows if stands(row)]
        speed = _closest(upright, "forward_speed_mps", "clip_forward_speed_mps") or upright[-1]
        stride = _closest(upright, "stride_length_m", "clip_stride_length_m") or upright[-1]
        error = min(upright, key=lambda row: row["key_body_error_m"])
        lines.append(
            f"  imitates ({IMITATES_TEXT}): not reached; best while standing: "
            f"speed {_number(speed['forward_speed_mps'], '{:.2f}', ' m/s')} "
            f"(clip {_number(speed['clip_forward_speed_mps'], '{:.2f}')}), "
            f"stride {_number(stride['stride_length_m'], '{:.2f}', ' m')} "
            f"(clip {_number(stride['clip_stride_length_m'], '{:.2f}')}), DTW {error['key_body_error_m']:.3f} m"
        )
    if trained is None:
        return lines
    evaluation = sum(row["eval_seconds"] for row in rows)
    lines.append(
        f"training: {trained.epochs} epochs, {trained.samples:,} samples, {trained.seconds / 60:.2f} training minutes; "
        f"evaluation: {len(rows)} times, {evaluation:.1f} s "
        f"({100 * evaluation / max(trained.seconds, 1e-9):.0f} % of the training time, not part of it)"
    )
    return lines


def _band(row: Row, key: str, floor: float) -> str:
    """The range of ``key`` that :func:`within` accepts for the clip of ``row``."""
    target = row[f"clip_{key}"]
    if not math.isfinite(target):
        return "any"
    band = max(GAIT_TOLERANCE * abs(target), floor)
    return f"{target - band:.2f} to {target + band:.2f}"


def _stride_period(stride: float, speed: float) -> float:
    """Seconds per stride at ``speed`` (nan when there is no stride or no forward motion)."""
    return stride / speed if math.isfinite(stride) and math.isfinite(speed) and speed > 0 else math.nan


def finite_median(values: Iterable[float]) -> float:
    """The median of the finite values, nan when there are none (an evaluation before the first stride has no stride,
    and a run that never stepped has no speed ratio)."""
    known = [value for value in values if math.isfinite(value)]
    return statistics.median(known) if known else math.nan


def _median(values: list[float], template: str, unit: str = "") -> str:
    return _number(finite_median(values), template, unit)


def window_lines(rows: list[Row], from_minutes: float) -> list[str]:
    """How the evaluations from training minute ``from_minutes`` on fare against each part of ``imitates`` (counts),
    with the medians of speed, stride, DTW error and seconds per stride: whether a gait, once reached, holds (single
    evaluations are noisy)."""
    late = [row for row in rows if row["train_minutes"] >= from_minutes]
    head = f"from training minute {round(from_minutes, 2):g} on"
    if not late:
        return [f"{head}: no evaluation"]
    clip = late[-1]

    def count(test: Callable[[Row], bool]) -> str:
        return f"{sum(map(test, late))}/{len(late)}"

    def column(key: str) -> list[float]:
        return [row[key] for row in late]

    strides = [value for value in column("stride_length_m") if math.isfinite(value)]
    errors = [value for value in column("key_body_error_m") if math.isfinite(value)]
    periods = [_stride_period(row["stride_length_m"], row["forward_speed_mps"]) for row in late]
    clip_period = _stride_period(clip["clip_stride_length_m"], clip["clip_forward_speed_mps"])
    tolerance = f"within {GAIT_TOLERANCE * 100:g} %"
    return [
        f"{head} ({len(late)} evaluations, epochs {late[0]['epoch']:.0f}-{clip['epoch']:.0f}):",
        f"  stand {count(stands)}; speed {tolerance} {count(speed_matches)}; stride {tolerance} "
        f"{count(stride_matches)}; DTW <= {DTW_LIMIT:g} m {count(poses_match)}; imitate {count(imitates)}",
        f"  medians: speed {_median(column('forward_speed_mps'), '{:.2f}', ' m/s')} "
        f"(clip {_number(clip['clip_forward_speed_mps'], '{:.2f}')}), "
        f"stride {_median(strides, '{:.2f}', ' m')} (clip {_number(clip['clip_stride_length_m'], '{:.2f}')}; "
        f"longest {_number(max(strides, default=math.nan), '{:.2f}')}), "
        f"DTW {_median(errors, '{:.3f}', ' m')} (best {_number(min(errors, default=math.nan), '{:.3f}')}), "
        f"stride period {_median(periods, '{:.2f}', ' s')} (clip {_number(clip_period, '{:.2f}')})",
    ]


def epoch_table(rows: list[Row], every: int) -> list[str]:
    """A markdown table of the evaluations at every ``every``-th epoch, where ``stands`` and ``imitates`` were first
    met, and the last; then the clip's gait and what ``imitates`` asks."""
    marked: dict[int, str] = {}
    for test, name in ((stands, "stands"), (imitates, "imitates")):
        row = first_met(rows, test)
        if row is not None:
            marked[id(row)] = f"{marked[id(row)]}, {name}" if id(row) in marked else name
    lines = [
        "| epoch | training min | fall rate | speed (m/s) | stride (m) | DTW (m) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if id(row) in marked or int(row["epoch"]) % every == 0 or row is rows[-1]:
            label = f"{row['epoch']:.0f}" + (f" ({marked[id(row)]})" if id(row) in marked else "")
            lines.append(
                f"| {label} | {row['train_minutes']:.1f} | {row['fall_rate']:.2f} | "
                f"{_number(row['forward_speed_mps'], '{:.2f}')} | {_number(row['stride_length_m'], '{:.2f}')} | "
                f"{row['key_body_error_m']:.3f} |"
            )
    if rows:
        clip = rows[-1]
        speed, stride = (_number(clip[f"clip_{key}"], "{:.2f}") for key in ("forward_speed_mps", "stride_length_m"))
        lines.append(f"| clip | | | {speed} | {stride} | |")
        lines.append(
            f"| imitates needs | | <= {STANDS_FALL_RATE:g} | {_band(clip, 'forward_speed_mps', SPEED_FLOOR)} | "
            f"{_band(clip, 'stride_length_m', STRIDE_FLOOR)} | <= {DTW_LIMIT:g} |"
        )
    return lines


_COUNT_COLUMNS = ("epoch", "samples", "episodes")  # whole numbers: read as ints, never blank


class SkillCsvError(ValueError):
    """A file that is not a ``skill.csv`` of ``bench skill`` (one line: the file and what is wrong)."""


def read_rows(path: Path) -> list[Row]:
    """The rows of a ``skill.csv`` as numbers (booleans as 0/1, blanks as nan), epochs and samples as ints;
    :class:`SkillCsvError` when a column is missing or an epoch or sample count is not a number."""
    with path.open(newline="") as stream:
        records = list(csv.DictReader(stream))
    missing = [column for column in COLUMNS if records and column not in records[0]]
    if missing:
        raise SkillCsvError(f"{path}: not a bench skill CSV (no column {', '.join(missing)})")
    rows = []
    for number, record in enumerate(records, start=2):
        row: Row = {}
        for key, text in record.items():
            try:
                if text in ("True", "False"):
                    row[key] = float(text == "True")
                elif key in _COUNT_COLUMNS:
                    row[key] = int(float(text))
                else:
                    row[key] = float(text)
            except (TypeError, ValueError):
                if key in _COUNT_COLUMNS:
                    raise SkillCsvError(f"{path}, line {number}: {key} {text!r} is not a number") from None
                row[key] = math.nan
        rows.append(row)
    return rows


PANELS = (
    ("fall_rate", "fall rate (deterministic)"),
    ("mean_episode_length", "mean episode length (steps)"),
    ("forward_speed_mps", "forward speed (m/s)"),
    ("stride_length_m", "median stride (m)"),
    ("key_body_error_m", "DTW hand/foot error (m)"),
    ("classifier_accuracy", "classifier accuracy"),
)


def plot(rows: list[Row], clip: str, output: Path) -> None:
    """Each metric of :data:`PANELS` against samples (left) and training minutes (right), with the thresholds, the
    clip's gait and its tolerance band, and where ``stands`` and ``imitates`` were first met."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(PANELS), 2, figsize=(11, 2.3 * len(PANELS)), sharex="col", squeeze=False)
    firsts = [(first_met(rows, test), name, color) for test, name, color in ((stands, "stands", "tab:green"),
              (imitates, "imitates", "tab:purple"))]  # fmt: skip
    for column, (x_key, x_label, scale) in enumerate(
        (("samples", "environment samples (millions)", 1e-6), ("train_minutes", "training minutes", 1.0))
    ):
        xs = [row[x_key] * scale for row in rows]
        for line, (key, label) in enumerate(PANELS):
            axis = axes[line, column]
            axis.plot(xs, [row[key] for row in rows], marker="o", markersize=3, color="tab:blue")
            _guides(axis, rows, key)
            for row, name, color in firsts:
                if row is not None:
                    axis.axvline(row[x_key] * scale, color=color, linestyle=":", label=f"{name} first met")
            axis.set_ylabel(label)
            axis.grid(alpha=0.3)
            if column == 0 and axis.get_legend_handles_labels()[0]:
                axis.legend(fontsize=7, loc="best")
        axes[-1, column].set_xlabel(x_label)
    figure.suptitle(f"time to skill: {clip}")
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=90)
    plt.close(figure)


def _guides(axis: object, rows: list[Row], key: str) -> None:
    """The threshold or target of panel ``key``."""
    if key == "fall_rate":
        axis.axhline(STANDS_FALL_RATE, color="tab:red", linestyle="--", label=f"stands: {STANDS_TEXT}")
    elif key == "key_body_error_m":
        axis.axhline(DTW_LIMIT, color="tab:red", linestyle="--", label=f"<= {DTW_LIMIT:g} m")
    elif key == "classifier_accuracy":
        axis.axhline(0.5, color="grey", linestyle="--", label="indistinguishable")
    elif key in ("forward_speed_mps", "stride_length_m"):
        target = rows[-1][f"clip_{key}"]
        if math.isfinite(target):
            band = max(GAIT_TOLERANCE * abs(target), SPEED_FLOOR if key == "forward_speed_mps" else STRIDE_FLOOR)
            axis.axhline(target, color="tab:red", linestyle="--", label="clip")
            axis.axhspan(target - band, target + band, color="tab:red", alpha=0.1)
