"""Checkpoints a user can rely on: the retention rule, resuming into the right folder, small runs with the default
sizes, and Ctrl-C saving a checkpoint that resumes with the run's own settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import PROJECT_ROOT, SMALL_RUN, run_python

from isaacgymenvs.learning.checkpoints import (
    atomic_torch_save,
    checkpoints_to_delete,
    newest_checkpoint,
    numbered_checkpoints,
)
from isaacgymenvs.resume import resume_target


@pytest.mark.parametrize(
    ("epochs", "keep_last", "keep_every", "deleted"),
    [
        ([50, 100, 150, 200, 250], 3, 100, [50]),  # 100 is a multiple of 100; 150-250 are the newest three
        ([50, 100, 150, 200, 250], 2, 0, [50, 100, 150]),
        ([50, 100], 3, 500, []),
        ([500, 550, 600, 650, 1000, 1050], 1, 500, [550, 600, 650]),
        ([10, 20, 30], 0, 0, []),  # 0: keep all
    ],
)
def test_retention_rule(epochs: list[int], keep_last: int, keep_every: int, deleted: list[int]) -> None:
    assert checkpoints_to_delete(epochs, keep_last, keep_every) == deleted


def _fake_run(runs: Path, name: str, epochs: dict[str, int]) -> Path:
    """A run folder ``runs/<name>`` with a config.yaml and checkpoint files (file name -> epoch)."""
    nn = runs / name / "nn"
    nn.mkdir(parents=True)
    (runs / name / "config.yaml").write_text(yaml.safe_dump({"train": {"params": {"config": {"name": name}}}}))
    for file_name, epoch in epochs.items():
        atomic_torch_save({"model": {}, "epoch": epoch}, nn / file_name)
    return nn


def test_resume_target_continues_the_run_or_branches(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    nn = _fake_run(runs, "walk", {"walk_50.pth": 50, "walk_100.pth": 100, "walk_last.pth": 110})
    assert numbered_checkpoints(nn, "walk") == {50: nn / "walk_50.pth", 100: nn / "walk_100.pth"}
    assert newest_checkpoint(nn) == (110, nn / "walk_last.pth")
    # The newest one: the same folder and names.
    target = resume_target(str(nn / "walk_last.pth"), "", runs)
    assert (target.experiment, target.checkpoint_name, target.note) == ("walk", "walk", None)
    # An older one: a new folder, twice without clashing.
    target = resume_target(str(nn / "walk_50.pth"), "", runs)
    assert target.experiment == "walk_from50" and "epoch 110" in target.note
    (runs / "walk_from50").mkdir()
    assert resume_target(str(nn / "walk_50.pth"), "", runs).experiment == "walk_from50_2"
    # experiment= names a new run: its own folder and file names.
    target = resume_target(str(nn / "walk_50.pth"), "walk2", runs)
    assert (target.experiment, target.checkpoint_name, target.note) == ("walk2", "walk2", None)
    # A checkpoint outside any run folder, no experiment=: a new run as usual.
    loose = tmp_path / "loose.pth"
    atomic_torch_save({"model": {}, "epoch": 5}, loose)
    assert resume_target(str(loose), "", runs) is None


@pytest.mark.sim
def test_retention_in_a_real_run(tmp_path: Path) -> None:
    args = [
        str(PROJECT_ROOT / "launch.py"),
        *SMALL_RUN,
        "max_iterations=5",
        "experiment=kept",
        "train.params.config.save_frequency=1",
        "train.params.config.keep_checkpoints=2",
        "train.params.config.keep_checkpoints_every=3",
    ]
    result = run_python(args, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    names = sorted(p.name for p in (tmp_path / "runs" / "kept" / "nn").iterdir())
    assert names == ["kept.pth", "kept_3.pth", "kept_4.pth", "kept_5.pth"]


@pytest.mark.sim
def test_default_sizes_with_8_envs_then_ctrl_c_then_resume(tmp_path: Path) -> None:
    """``num_envs=8`` alone trains with the default sizes (the minibatches shrink, with a note); Ctrl-C after the first
    epoch saves ``_last`` and says how to resume; resuming with only checkpoint= and experiment= keeps the run's motion
    file and environment count and continues the epoch count."""
    command = [
        sys.executable,
        str(PROJECT_ROOT / "launch.py"),
        "task=HumanoidAMP",
        "num_envs=8",
        "task.env.motion_file=humanoid3d_walk",
        "experiment=eight",
    ]
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    with subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    ) as process:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 300
        for line in process.stdout:
            lines.append(line)
            if line.startswith("epoch 1/"):
                process.send_signal(signal.SIGINT)
                break
            assert time.monotonic() < deadline, "".join(lines)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert any(line.startswith("note: minibatch_size 4096 -> 128") for line in lines), "".join(lines)
    last = Path("runs") / "eight" / "nn" / "eight_last.pth"
    stop_line = err.strip().splitlines()[-1]
    assert stop_line.startswith("stopped by SIGINT at epoch ") and f"checkpoint={last}" in stop_line, err
    stopped_at = torch.load(tmp_path / last, weights_only=True)["epoch"]
    assert stopped_at >= 1

    resumed = run_python(
        [str(PROJECT_ROOT / "launch.py"), f"checkpoint={last}", "experiment=eight", f"max_iterations={stopped_at + 1}"],
        tmp_path,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "note: from the run's config.yaml: motion file humanoid3d_walk" in resumed.stdout
    assert f"epoch {stopped_at + 1}/{stopped_at + 1} | frames" in resumed.stdout
    final = torch.load(tmp_path / "runs" / "eight" / "nn" / "eight.pth", weights_only=True)
    assert final["epoch"] == stopped_at + 1
    resolved = yaml.safe_load((tmp_path / "runs" / "eight" / "config.yaml").read_text())
    assert resolved["task"]["env"]["numEnvs"] == 8 and resolved["task"]["env"]["motion_file"] == "humanoid3d_walk"
    assert not (tmp_path / "runs" / "eight" / "nn" / "eight_last.pth").exists()  # superseded by the final one


def test_an_unreadable_or_hostile_run_config_is_ignored(tmp_path: Path) -> None:
    from isaacgymenvs.resume import saved_run_config

    (tmp_path / "nn").mkdir()
    checkpoint = tmp_path / "nn" / "x.pth"
    assert saved_run_config(checkpoint) is None  # no config.yaml
    (tmp_path / "config.yaml").write_text("a: " + "[" * 100_000 + "]" * 100_000)  # nested beyond any parser's depth
    assert saved_run_config(checkpoint) is None
    (tmp_path / "config.yaml").write_text("task:\n  env:\n    numEnvs: 8\n")
    assert saved_run_config(checkpoint) == {"task": {"env": {"numEnvs": 8}}}


def test_saved_run_settings_fill_what_the_command_line_leaves() -> None:
    """The run's AMP window (which sizes the discriminator) is taken when playing and training; the constant-feature
    mask only when training; a command-line value wins, with a note."""
    from omegaconf import OmegaConf

    from isaacgymenvs import compose_config
    from isaacgymenvs.resume import apply_saved_config

    saved = OmegaConf.to_container(compose_config(["task=HumanoidAMP"]), resolve=True)
    saved["task"]["env"]["numAMPObsSteps"] = 7
    saved["train"]["params"]["config"]["amp_mask_constant_features"] = "saved"

    played = compose_config(["task=HumanoidAMP"])
    notes = apply_saved_config(played, [], saved, playing=True)
    assert played.task.env.numAMPObsSteps == 7 and "AMP steps 7" in notes[0]
    assert played.train.params.config.amp_mask_constant_features != "saved"

    trained = compose_config(["task=HumanoidAMP"])
    apply_saved_config(trained, [], saved, playing=False)
    assert trained.train.params.config.amp_mask_constant_features == "saved"

    asked = compose_config(["task=HumanoidAMP", "task.env.numAMPObsSteps=3"])
    notes = apply_saved_config(asked, ["task.env.numAMPObsSteps=3"], saved, playing=True)
    assert asked.task.env.numAMPObsSteps == 3 and "AMP steps: 3 from the command line (the run used 7)" in notes
