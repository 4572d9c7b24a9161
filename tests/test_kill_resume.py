"""A training run killed with SIGKILL, at a random moment or while it writes a checkpoint, resumes from its newest
checkpoint: at most one save interval is lost, the epoch and frame counters continue, and nothing corrupt or
half-written is left for a later command.

SIGKILL cannot be caught, so nothing is saved on the way out: what is on disk is whatever the last finished save left.
Checkpoints are written to hidden temporaries and moved into place (``isaacgymenvs.utils.files.atomic_write``), so a
kill in the middle of a save leaves the previous file plus a hidden ``.<name>.<hex>.partial`` temporary, which no
command reads and the next launch into that run folder removes. The random moment is drawn from a seeded generator
(``KILL_RESUME_SEED``, default 7), so a failure can be repeated.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, SMALL_RUN, run_python

from isaacgymenvs.learning.checkpoints import newest_checkpoint, read_checkpoint_file

pytestmark = pytest.mark.sim

SEED = int(os.environ.get("KILL_RESUME_SEED", "7"))
NAME = "killed"
# Checkpoints every epoch; a replay buffer of 32768 AMP observations (27 MB) makes <name>_last.pth slow enough to write
# that a kill can land inside the write.
SAVE_EVERY_EPOCH = [
    *SMALL_RUN,
    "train.params.config.save_frequency=1",
    "train.params.config.amp_replay_buffer_size=32768",
    f"experiment={NAME}",
]
FRAMES_PER_EPOCH = 16 * 8  # num_envs x horizon_length of SMALL_RUN


def _train_until_killed(folder: Path, moment: str, rng: random.Random) -> int:
    """Start a long run and SIGKILL it after its second epoch line: a random moment later, or as soon as a checkpoint
    is being written; return the last epoch it printed."""
    command = [sys.executable, str(PROJECT_ROOT / "launch.py"), *SAVE_EVERY_EPOCH, "max_iterations=1000"]
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    nn = folder / "runs" / NAME / "nn"
    printed = 0
    with subprocess.Popen(
        command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment
    ) as process:
        assert process.stdout is not None
        deadline = time.monotonic() + 300
        for line in process.stdout:
            match = re.match(r"epoch (\d+)/", line)
            if match:
                printed = int(match.group(1))
            if printed >= 2:  # epoch 1's checkpoints are on disk: epoch 2 starts after they are written
                break
            assert time.monotonic() < deadline, "no epoch line in time"
        if moment == "random":
            time.sleep(rng.uniform(0.0, 1.5))  # a few epochs of SMALL_RUN: before, during or after a save
        else:  # the moment a temporary checkpoint file appears, i.e. while torch.save is writing it
            deadline = time.monotonic() + 60
            while not any(path.name.endswith(".partial") for path in nn.iterdir()):
                assert time.monotonic() < deadline, "no checkpoint write seen"
                time.sleep(0.0005)
        process.send_signal(signal.SIGKILL)
        # Lines printed before the kill landed (the pipe still holds them).
        for line in process.stdout:
            match = re.match(r"epoch (\d+)/", line)
            if match:
                printed = int(match.group(1))
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return printed


@pytest.mark.parametrize("moment", ["random", "while-saving"])
def test_sigkill_then_resume(tmp_path: Path, moment: str) -> None:
    printed = _train_until_killed(tmp_path, moment, random.Random(SEED))
    nn = tmp_path / "runs" / NAME / "nn"

    # Every checkpoint file a command could pick up is whole.
    for path in nn.glob("*.pth"):
        state = read_checkpoint_file(path)
        assert "model" in state and state["epoch"] >= 1, path
    # The newest one: usually <name>_last.pth, but a kill between the numbered save and the _last one leaves the
    # numbered one newer (that order is the run's: numbered first).
    newest = newest_checkpoint(nn)
    assert newest is not None, sorted(p.name for p in nn.iterdir())
    checkpoint = newest[1]
    state = read_checkpoint_file(checkpoint)
    epoch, frame = state["epoch"], state["frame"]
    # At most one save interval (one epoch here) lost: the save after the last printed epoch may not have finished.
    assert printed - 1 <= epoch <= printed, (printed, epoch)
    assert frame == epoch * FRAMES_PER_EPOCH

    # A kill in the middle of a save leaves a hidden temporary beside the checkpoint, which nothing reads and the next
    # launch removes. The kill may land just after the write it was aimed at; then one is made up, as it would be.
    stale = [path for path in nn.iterdir() if path.name.endswith(".partial")]
    print(f"killed after epoch {printed}; newest checkpoint: epoch {epoch}; left while saving: {stale}")
    if not stale:
        (nn / f".{NAME}_last.pth.0123456789ab.partial").write_bytes(b"half a checkpoint")

    relative = checkpoint.relative_to(tmp_path)
    resumed = run_python(
        [str(PROJECT_ROOT / "launch.py"), *SAVE_EVERY_EPOCH, f"checkpoint={relative}", f"max_iterations={epoch + 2}"],
        tmp_path,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"note: removed {max(len(stale), 1)} unfinished file(s) left in runs/{NAME}" in resumed.stdout
    assert "holds a newer checkpoint" not in resumed.stdout  # the newest was picked: the same run folder continues
    # The counters continue from the checkpoint: the next epoch is epoch + 1, its frames follow the checkpoint's.
    assert f"epoch {epoch + 1}/{epoch + 2} | frames {frame + FRAMES_PER_EPOCH} |" in resumed.stdout, resumed.stdout
    assert f"epoch {epoch + 2}/{epoch + 2} | frames {frame + 2 * FRAMES_PER_EPOCH} |" in resumed.stdout
    final = read_checkpoint_file(nn / f"{NAME}.pth")
    assert final["epoch"] == epoch + 2 and final["frame"] == frame + 2 * FRAMES_PER_EPOCH
    leftovers = [path.name for path in (tmp_path / "runs").rglob("*") if path.name.endswith(".partial")]
    assert leftovers == []
