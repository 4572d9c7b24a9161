"""``python -m isaacgymenvs.bench env``: the side-by-side table per thread count and ``--profile``'s breakdown, on a
tiny batch (real task, real MuJoCo)."""

from __future__ import annotations

import re

import pytest

from isaacgymenvs.bench.env import paired_ratio
from tests.conftest import run_python

pytestmark = pytest.mark.sim


def test_env_bench_prints_raw_and_task_per_thread_count(tmp_path) -> None:
    result = run_python(
        ["-m", "isaacgymenvs.bench", "env", "--quick", "--envs", "16", "--threads", "1", "1", "--seconds", "0.1"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if re.match(r"\s+16\s", line)]
    assert len(rows) == 1  # repeated thread counts are measured once
    num_envs, threads, raw, eager, ratio = rows[0][:5]
    assert (num_envs, threads) == ("16", "1")
    assert float(raw) > 0 and float(eager) > 0
    assert ratio.endswith("%") and 0 < float(ratio.rstrip("%")) < 1000
    assert "median of 5 alternating blocks of 0.1 s" in result.stdout


def test_ratios_are_taken_within_a_round() -> None:
    """A machine slowing down in round 2 moves both rates; the ratio of neighbours ignores it, a ratio of the two
    medians would not."""
    assert paired_ratio([9.0, 10.0, 27.0], [10.0, 20.0, 30.0]) == pytest.approx(0.9)


def test_env_bench_profile_accounts_for_the_step(tmp_path) -> None:
    result = run_python(["-m", "isaacgymenvs.bench", "env", "--profile", "--envs", "16", "--threads", "1"], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("  ") and line.endswith("%")]
    physics = next(line for line in lines if "MuJoCo batch.step" in line)
    assert float(physics.split()[-3]) > 0  # ms
    top = [line for line in lines if not line.startswith("   ")]  # reset_done, pre_physics, simulate, post, the rest
    assert len(top) == 5
    assert sum(float(line.split()[-1].rstrip("%")) for line in top) == pytest.approx(100, abs=0.5)


def test_env_bench_refuses_negative_threads(tmp_path) -> None:
    result = run_python(["-m", "isaacgymenvs.bench", "env", "--threads", "-1"], tmp_path)
    assert result.returncode != 0
    assert "--threads" in result.stderr and "Traceback" not in result.stderr
    result = run_python(["-m", "isaacgymenvs.bench", "env", "--rounds", "0"], tmp_path)
    assert result.returncode != 0
    assert "--rounds" in result.stderr and "Traceback" not in result.stderr
