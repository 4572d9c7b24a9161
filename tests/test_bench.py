"""The training benchmark end to end at a tiny size: it runs the real launcher, echoes its progress and reports the
medians parsed from the progress lines; and ``python -m isaacgymenvs.bench --help`` lists every benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SMALL_RUN, run_python

from isaacgymenvs.bench.runs import LAUNCHER_PROGRESS

pytestmark = pytest.mark.sim


def test_progress_pattern_reads_lines_with_and_without_episodes() -> None:
    line = "epoch 3/10 | frames 49152 | 2572 samples/s (env 15282/s) | episode length 8.0 | disc reward 0.696"
    match = LAUNCHER_PROGRESS.match(line)
    assert match is not None
    assert (match["epoch"], match["frames"], match["total"], match["env"], match["length"]) == (
        "3",
        "49152",
        "2572",
        "15282",
        "8.0",
    )
    early = LAUNCHER_PROGRESS.match("epoch 1/10 | frames 128 | 900 samples/s (env 4000/s) | disc reward 4.0")
    assert early is not None and early["length"] is None


def test_train_benchmark_reports_medians(tmp_path: Path) -> None:
    command = ["-m", "isaacgymenvs.bench", "train", "--epochs", "3", "--reference-seconds", "0.1", *SMALL_RUN[1:]]
    result = run_python(command, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "  launch.py: epoch 3/3 |" in result.stdout  # progress echoed while it runs
    row = result.stdout.strip().splitlines()[-1]
    assert row.startswith("default config"), result.stdout
    # total/s, env/s, raw MuJoCo's rate, total/raw and, where the kernel reports it, the stolen share ("3%")
    values = row.split()[2:]
    assert len(values) == 4 or (len(values) == 5 and values[4].endswith("%")), row
    total, env, raw, ratio = map(float, values[:4])
    assert 0 < total < env  # the end-to-end rate includes the environment's time and more
    assert raw > 0 and ratio == pytest.approx(total / raw, abs=0.006)  # printed with two decimals


def test_train_benchmark_refuses_a_bad_reference_block(tmp_path: Path) -> None:
    result = run_python(["-m", "isaacgymenvs.bench", "train", "--reference-seconds", "0"], tmp_path)
    assert result.returncode == 2
    assert "--reference-seconds" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_every_benchmark(tmp_path: Path) -> None:
    from isaacgymenvs.bench.__main__ import BENCHMARKS

    for flag in ("--help", "-h"):
        result = run_python(["-m", "isaacgymenvs.bench", flag], tmp_path)
        assert result.returncode == 0, result.stderr
        listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
        assert listed == list(BENCHMARKS) and "skill" in listed
    missing = run_python(["-m", "isaacgymenvs.bench"], tmp_path)
    assert missing.returncode == 2 and "skill" in missing.stderr


def test_an_unknown_benchmark_is_one_line(tmp_path: Path) -> None:
    from isaacgymenvs.bench.__main__ import BENCHMARKS

    result = run_python(["-m", "isaacgymenvs.bench", "nope"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: unknown benchmark 'nope'; choices: {', '.join(BENCHMARKS)}"
