"""Multi-process training: two CPU ranks under torchrun end with identical models (parameters and normalisers), write
one run folder with one checkpoint and exit 0; averaging running statistics pools the ranks' moments."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import SMALL_RUN

from isaacgymenvs.learning.distributed import average_running_stats, state_digest

pytestmark = pytest.mark.sim
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# One physics thread per rank: two ranks share the two cores.
PER_RANK = [*SMALL_RUN, "task.sim.mujoco.num_threads=1"]


def test_two_cpu_ranks_train_in_lockstep(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(PROJECT_ROOT / "launch.py"),
            *PER_RANK,
            "multi_gpu=True",
            "max_iterations=3",
            "experiment=dist",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    digests = dict(re.findall(r"rank (\d)/2: state digest ([0-9a-f]{16})", result.stdout))
    assert set(digests) == {"0", "1"}, result.stdout[-2000:]
    assert digests["0"] == digests["1"]
    # Rank 0 alone writes: one run folder, the final checkpoint, one set of summaries; frames count both ranks.
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["dist"]
    assert [p.name for p in (tmp_path / "runs" / "dist" / "nn").iterdir()] == ["dist.pth"]
    assert len(list((tmp_path / "runs" / "dist" / "summaries").iterdir())) == 1
    state = torch.load(tmp_path / "runs" / "dist" / "nn" / "dist.pth", weights_only=True)
    assert state["epoch"] == 3 and state["frame"] == 3 * 2 * 16 * 8
    assert result.stdout.count("finished: 3 epochs") == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _average_on_rank(rank: int, port: int, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        from rl_games.algos_torch.running_mean_std import RunningMeanStd

        normaliser = RunningMeanStd((3,))
        normaliser.train()
        generator = torch.Generator().manual_seed(rank)
        samples = torch.randn(1000, 3, generator=generator) * (1.0 + rank) + 4.0 * rank
        normaliser(samples)
        average_running_stats(normaliser)
        results[rank] = (
            normaliser.running_mean.clone(),
            normaliser.running_var.clone(),
            state_digest([normaliser]),
        )
    finally:
        dist.destroy_process_group()


def test_averaged_running_statistics_are_the_pooled_moments() -> None:
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(_average_on_rank, args=(_free_port(), results), nprocs=2, join=True)
    pooled = torch.cat(
        [torch.randn(1000, 3, generator=torch.Generator().manual_seed(r)) * (1.0 + r) + 4.0 * r for r in (0, 1)]
    ).double()
    for rank in (0, 1):
        mean, variance, _ = results[rank]
        torch.testing.assert_close(mean, pooled.mean(0), atol=1e-3, rtol=1e-3)
        torch.testing.assert_close(variance, pooled.var(0, unbiased=False), atol=2e-2, rtol=1e-2)
    assert results[0][2] == results[1][2]
