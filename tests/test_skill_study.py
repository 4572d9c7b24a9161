"""The time-to-skill study's comparison: figures read at fixed sample counts from each variant's ``skill.csv``."""

from __future__ import annotations

import csv
from pathlib import Path

from conftest import run_python

from isaacgymenvs.bench.skill_report import COLUMNS
from isaacgymenvs.bench.skill_study import compare


def _write_run(folder: Path, rows: list[dict[str, float]]) -> None:
    folder.mkdir(parents=True)
    with (folder / "skill.csv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key, 0.0) for key in COLUMNS})


def _row(samples: float, length: float, minutes: float, stands: bool = False) -> dict[str, float]:
    return {
        "samples": samples,
        "mean_episode_length": length,
        "train_minutes": minutes,
        "fall_rate": 0.0 if stands else 1.0,
        "stands": stands,
        "imitates": False,
    }


def test_compare_reads_each_variant_at_the_same_sample_counts(tmp_path: Path) -> None:
    _write_run(tmp_path / "baseline", [_row(0.5e6, 8, 1), _row(1.0e6, 10, 2), _row(2.1e6, 12, 4)])
    _write_run(tmp_path / "uncapped", [_row(1.0e6, 20, 2), _row(2.0e6, 300, 4, stands=True)])
    lines = compare(tmp_path, ["baseline", "uncapped", "lr_2e-4"])  # lr_2e-4 has not run: no row
    assert len(lines) == 4
    baseline, uncapped = (line.split(" | ") for line in lines[2:])
    # Columns at 0.5, 1, 1.5 and 2 M (none past the longest run, 2.1 M). @2 M: 2.1 M is past 2 M (+2 %), so still
    # the 1 M evaluation; uncapped has no evaluation at or before 0.5 M.
    assert lines[0].count("ep. length @") == 4
    assert baseline[2:6] == ["8.0", "10.0", "10.0", "10.0"]
    assert baseline[9:11] == ["not reached", "not reached"]
    assert uncapped[2:6] == ["", "20.0", "20.0", "300.0"] and uncapped[9] == "2.0 M / 4 min"
    assert uncapped[8] == "500,000"  # samples per training minute, from the last row: 2 M in 4 minutes
    assert (tmp_path / "compare.png").is_file()


def test_unknown_variant_is_one_line(tmp_path: Path) -> None:
    result = run_python(["-m", "isaacgymenvs.bench", "study", "--variants", "baseline,nope", "--report-only"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: unknown variants ['nope']")


def test_compare_keeps_to_the_budget_and_reads_the_late_gait(tmp_path: Path) -> None:
    def gait_row(samples: float, speed: float, stride: float, dtw: float) -> dict[str, float]:
        row = _row(samples, 299, samples / 1e6, stands=True)
        row |= {"forward_speed_mps": speed, "clip_forward_speed_mps": 4.0, "stride_length_m": stride}
        return row | {"clip_stride_length_m": 2.0, "key_body_error_m": dtw}

    # A longer run of the same configuration: only its evaluations up to the 4 M budget count. The last quarter of
    # those (3 M and 4 M) gives medians of speed 2/4 and 3/4, stride 1/2 and 1.5/2, DTW 0.1 and 0.2.
    rows = [gait_row(1e6, 9.0, 9.0, 0.9), gait_row(3e6, 2.0, 1.0, 0.1), gait_row(4e6, 3.0, 1.5, 0.2)]
    _write_run(tmp_path / "baseline", [*rows, gait_row(8e6, 9.0, 9.0, 0.9)])
    lines = compare(tmp_path, ["baseline"], samples=4_000_000)
    header, row = lines[0].split(" | "), lines[2].split(" | ")
    assert "ep. length @8 M" not in header and header[-1] == "DTW m (last 1/4) |"
    assert row[-3:] == ["0.62", "0.62", "0.150 |"]
