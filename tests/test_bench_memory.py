"""``bench memory``: the resident-memory readings are real (a child that holds 80 MB reads at least that), growth is
measured after the warm-up, and bad options end in one line."""

from __future__ import annotations

import csv
import subprocess
import sys
import time

import pytest

from isaacgymenvs.bench import memory

HOLD_80_MB = "import time; block = bytearray(80_000_000); time.sleep(1.5)"


def test_tree_rss_counts_a_child_process() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {HOLD_80_MB!r}])"]
    )
    try:
        time.sleep(1.0)
        assert memory.tree_rss_mib(parent.pid) >= 80_000_000 / 2**20
    finally:
        parent.wait()


def test_watch_writes_samples_and_growth(tmp_path) -> None:
    script = (
        "import time; blocks = [bytearray(40_000_000)]; time.sleep(2.0); "
        "blocks.append(bytearray(40_000_000)); time.sleep(2.0)"
    )
    result = memory.watch([sys.executable, "-c", script], 0.2, 1.0 / 60, tmp_path / "rss.csv")
    assert result["returncode"] == 0
    with (tmp_path / "rss.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) >= 5
    assert result["peak_mib"] >= 80_000_000 / 2**20
    # From about 40 MB (+ the interpreter) to about 80 MB: growth well above zero, below 100 %.
    assert 0.3 < result["growth"] < 1.0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--envs", "0"], "must be positive integers"), (["--watch"], "needs a command after --")],
)
def test_bad_options_one_line(arguments: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "isaacgymenvs.bench", "memory", *arguments], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_peak_of_a_tiny_training_run() -> None:
    result = memory.peak_for(8, 1, ["train.params.config.amp_replay_buffer_size=256"])
    assert result["epochs"] == 2
    assert 100 < result["peak_mib"] < 4096
