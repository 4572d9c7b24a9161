"""``bench targets``: its summary checked on hand-computed quartiles and counts, its CSV rewritten whole, one tiny round
of the real measurements end to end, and bad command lines refused in one line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import SMALL_RUN, run_python

from isaacgymenvs.bench.targets import (
    TRAIN_TARGET,
    main,
    measures,
    quartiles,
    ratio_target,
    summary,
    write_csv,
)


def test_quartiles_interpolate_between_the_values() -> None:
    # inclusive quartiles of 0.85, 0.90, 0.95, 1.00: positions 0.75, 1.5 and 2.25 of 0..3
    assert quartiles([0.95, 0.85, 1.00, 0.90]) == pytest.approx((0.85, 0.8875, 0.925, 0.9625, 1.00))
    assert quartiles([0.7]) == (0.7,) * 5


def test_the_targets_are_the_issues() -> None:
    assert ratio_target(1) == ratio_target(2) == 0.90
    assert ratio_target(16) == 0.80
    assert TRAIN_TARGET == 8000
    columns = [m.column for m in measures([1024, 4096], [2])]
    assert columns == [
        "eager_raw_1024_2", "eager_raw_4096_2", "train_total", "train_env", "train_raw", "train_limit", "train_share"
    ]  # fmt: skip


def test_summary_counts_the_rounds_that_met_each_target() -> None:
    quantities = measures([1024], [2])
    records = [
        {
            **{"eager_raw_1024_2": ratio, "train_total": total, "train_env": 9000.0 + i, "train_raw": 12000.0},
            **{"train_limit": limit, "train_share": total / limit},
        }
        for i, (ratio, total, limit) in enumerate(
            [(0.85, 7000.0, 10000.0), (0.90, 8000.0, 10000.0), (0.95, 8100.0, 10000.0), (1.00, 5000.0, 7000.0)]
        )
    ]
    lines = summary(records, quantities)
    assert lines[0].split()[-6:] == ["met", "min", "p25", "median", "p75", "max"]
    ratio_line, total_line, env_line, raw_line, limit_line, share_line, verdict = lines[1:]
    assert "N = 1024, 2 threads (>= 90%)" in ratio_line
    assert ratio_line.split()[-6:] == ["3/4", "85%", "89%", "92%", "96%", "100%"]
    assert "(>= 8,000)" in total_line
    assert total_line.split()[-6:] == ["2/4", "5,000", "6,500", "7,500", "8,025", "8,100"]
    assert all(line.split()[-6] == "-" for line in (env_line, raw_line, limit_line, share_line))  # not judged
    assert share_line.split()[-6:] == ["-", "70%", "71%", "76%", "80%", "81%"]
    assert verdict == (
        "end to end: the ceiling was below 8,000 samples/s in 1 of 4 rounds (the target out of reach in them); "
        "2 of the other 3 met it"
    )


def test_csv_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "targets.csv"
    write_csv(path, [{"round": 1, "a": 0.5}], ["round", "a"])
    write_csv(path, [{"round": 1, "a": 0.5}, {"round": 2, "a": 0.75}], ["round", "a"])
    with path.open() as stream:
        assert list(csv.DictReader(stream)) == [{"round": "1", "a": "0.5"}, {"round": "2", "a": "0.75"}]
    assert [p.name for p in tmp_path.iterdir()] == ["targets.csv"]  # no temporary file left behind


@pytest.mark.sim
def test_one_tiny_round_end_to_end(tmp_path: Path) -> None:
    command = [
        *["-m", "isaacgymenvs.bench", "targets", "--rounds", "1", "--epochs", "2", "--envs", "16"],
        *["--threads", "1", "--seconds", "0.05", "--blocks", "1", "--csv", "out.csv", *SMALL_RUN[1:]],
    ]
    result = run_python(command, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "  launch.py: epoch 2/2 |" in result.stdout  # the training's progress is echoed
    table = result.stdout.strip().splitlines()[-7:]
    assert "N = 16, 1 thread (>= 90%)" in table[0] and table[0].split()[-6] in ("0/1", "1/1")
    assert "end to end" in table[1] and table[1].split()[-6] in ("0/1", "1/1")
    with (tmp_path / "out.csv").open() as stream:
        (row,) = list(csv.DictReader(stream))
    assert row["round"] == "1"
    assert 0 < float(row["train_total"]) < float(row["train_env"])  # the update takes time too
    assert float(row["eager_raw_16_1"]) > 0 and float(row["raw_16_1"]) > 0 and float(row["train_raw"]) > 0
    assert 0 < float(row["train_limit"]) < float(row["train_raw"])  # the networks take time too
    assert float(row["train_share"]) == pytest.approx(float(row["train_total"]) / float(row["train_limit"]), abs=1e-4)
    (round_line,) = [line for line in result.stdout.splitlines() if line.startswith("round 1/1 ")]
    assert f"ceiling {float(row['train_limit']):,.0f})" in round_line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--epochs", "1"], "--epochs must be at least 2"),
        (["--rounds", "0"], "must be positive"),
        (["--threads", "-1"], "--threads >= 0"),
        (["--csv", "missing/out.csv"], "does not exist"),
    ],
)
def test_bad_command_lines_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:  # refused before anything is measured, so in this process
        main(args)
    assert exit_info.value.code == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert fragment in errors[-1] and errors[-1].startswith("python -m isaacgymenvs.bench targets: error:")
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_training_value_the_launcher_refuses_is_one_line_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--csv", "out.csv", "train.params.config.minibatch_size=0"]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "error: train.params.config.minibatch_size must be an integer >= 1, got 0"
    ]
    assert captured.out == "" and not any(tmp_path.iterdir())  # nothing measured, nothing written
