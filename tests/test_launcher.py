"""The real launcher end to end: train a few epochs, play the checkpoint, resume from it; TensorBoard contents; and
one clear line with a non-zero exit for every mistake on the command line."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import SMALL_RUN, run_python
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from isaacgymenvs.learning.checkpoints import atomic_torch_save

pytestmark = pytest.mark.sim

PROJECT_ROOT = Path(__file__).resolve().parents[1]


# Checkpoints every 2 epochs, convergence metrics every 2 epochs.
SMOKE_EXTRAS = ["train.params.config.save_frequency=2", "train.params.config.metrics_interval=2"]


def _launch(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return run_python([str(PROJECT_ROOT / "launch.py"), *args], cwd)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-epoch run with a checkpoint every 2 epochs; returns its working directory."""
    folder = tmp_path_factory.mktemp("launch")
    result = _launch([*SMALL_RUN, "max_iterations=4", "experiment=smoke", *SMOKE_EXTRAS], folder)
    assert result.returncode == 0, result.stderr[-2000:]
    return folder


def test_training_writes_checkpoints_summaries_and_config(trained: Path) -> None:
    run = trained / "runs" / "smoke"
    # The final checkpoint supersedes smoke_last.pth, which is removed at the end.
    assert sorted(p.name for p in (run / "nn").iterdir()) == ["smoke.pth", "smoke_2.pth", "smoke_4.pth"]
    assert (run / "config.yaml").read_text().startswith("task:")
    # rl_games' own messages go to the run folder, not the console.
    assert "build mlp" in (run / "rl_games.log").read_text()
    events = EventAccumulator(str(run / "summaries"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for tag in (
        "losses/disc_loss",
        "info/disc_agent_acc",
        "info/disc_demo_acc",
        "info/disc_reward_mean",
        "info/disc_reward_std",
        "info/disc_grad_penalty",
        "info/disc_logit_loss",
        "losses/a_loss",
        "losses/c_loss",
        "losses/bounds_loss",
        "info/kl",
        "performance/total_fps",
        "episode_lengths/frame",
        "rewards/frame",
        "metrics/frechet_amp",
        "metrics/fall_rate",
    ):
        assert tag in tags, tag
    assert len(events.Scalars("losses/disc_loss")) == 4
    assert [event.step for event in events.Scalars("metrics/frechet_amp")] == [
        128,
        384,
    ]  # epochs 2 and 4 (frames before the epoch)
    state = torch.load(run / "nn" / "smoke.pth", weights_only=True)
    assert state["epoch"] == 4 and "amp_input_mean_std" in state and "amp_replay_buffer" in state
    numbered = torch.load(run / "nn" / "smoke_2.pth", weights_only=True)
    assert numbered["epoch"] == 2 and "amp_replay_buffer" not in numbered  # numbered checkpoints stay small


def test_play_the_checkpoint(trained: Path) -> None:
    checkpoint = trained / "runs" / "smoke" / "nn" / "smoke.pth"
    result = _launch(
        [*SMALL_RUN, "test=True", f"checkpoint={checkpoint}", "num_envs=4", "++train.params.config.player.games_num=8"],
        trained,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "av reward" in result.stdout and "av steps" in result.stdout
    assert "build mlp" not in result.stdout and "self.seed" not in result.stdout  # rl_games' chatter stays off


def test_play_takes_the_clip_and_sizes_from_the_run(trained: Path) -> None:
    """Only checkpoint= given: the run's walk clip and [64, 32] networks are used, not the defaults."""
    checkpoint = trained / "runs" / "smoke" / "nn" / "smoke.pth"
    args = ["task=HumanoidAMP", "test=True", f"checkpoint={checkpoint}", "num_envs=4"]
    result = _launch([*args, "++train.params.config.player.games_num=4"], trained)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "note: from the run's config.yaml: motion file humanoid3d_walk, policy units [64, 32]" in result.stdout


def _scalars(run: Path, tag: str) -> list[float]:
    events = EventAccumulator(str(run / "summaries"))
    events.Reload()
    return [event.value for event in events.Scalars(tag)]


def test_a_fixed_seed_repeats_the_losses(trained: Path, tmp_path: Path) -> None:
    """Two CPU runs with the same seed and configuration give identical losses over their first epochs."""
    result = _launch([*SMALL_RUN, "max_iterations=2", "experiment=smoke", *SMOKE_EXTRAS], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for tag in ("losses/a_loss", "losses/c_loss", "losses/disc_loss", "info/disc_reward_mean"):
        first = _scalars(trained / "runs" / "smoke", tag)[:2]
        second = _scalars(tmp_path / "runs" / "smoke", tag)
        assert len(second) == 2 and first == second, tag


def test_evaluate_the_checkpoint(trained: Path) -> None:
    checkpoint = trained / "runs" / "smoke" / "nn" / "smoke.pth"
    eval_args = ["-m", "isaacgymenvs.eval", *SMALL_RUN, f"checkpoint={checkpoint}", "num_envs=4"]
    result = run_python([*eval_args, "--episodes", "2", "--json", "eval.json", "--feature-gaps"], trained)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| metric | reference (resampled) | policy | zero action | random |" in result.stdout
    assert "| feature | policy mean | clip mean | gap (pooled std) | std policy / clip |" in result.stdout
    results = json.loads((trained / "eval.json").read_text())
    assert results["policy"]["episodes"] == 2 and 0.0 <= results["policy"]["fall_rate"] <= 1.0


def test_resume_never_replaces_a_newer_checkpoint(trained: Path) -> None:
    """Resuming epoch 2 of a run whose folder holds epoch 4 writes into a new folder; the newer files stay."""
    run = trained / "runs" / "smoke"
    before = {p.name: p.stat().st_mtime_ns for p in (run / "nn").iterdir()}
    checkpoint = run / "nn" / "smoke_2.pth"
    result = _launch(["task=HumanoidAMP", f"checkpoint={checkpoint}", "max_iterations=3", *SMOKE_EXTRAS], trained)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "runs/smoke holds a newer checkpoint (smoke" in result.stdout and "epoch 4) than epoch 2" in result.stdout
    assert {p.name: p.stat().st_mtime_ns for p in (run / "nn").iterdir()} == before
    branch = trained / "runs" / "smoke_from2"
    assert torch.load(branch / "nn" / "smoke.pth", weights_only=True)["epoch"] == 3
    # The run's settings came along: the walk clip and 16 environments.
    resolved = (branch / "config.yaml").read_text()
    assert "motion_file: humanoid3d_walk" in resolved and "numEnvs: 16" in resolved


def test_resume_continues_the_epoch_count(trained: Path) -> None:
    checkpoint = trained / "runs" / "smoke" / "nn" / "smoke_2.pth"
    result = _launch([*SMALL_RUN, f"checkpoint={checkpoint}", "max_iterations=3", "experiment=resumed"], trained)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "restored" in result.stdout and "epoch 3/3" in result.stdout and "epoch 1/" not in result.stdout
    state = torch.load(trained / "runs" / "resumed" / "nn" / "resumed.pth", weights_only=True)
    assert state["epoch"] == 3


@pytest.mark.parametrize(
    ("args", "fragment", "status"),
    [
        (["task=Humanoid"], "unknown task config 'Humanoid'; available: HumanoidAMP, HumanoidAMPHands", 2),
        (["task=HumanoidAMP", "train=SAC"], "unknown train config 'SAC'", 2),
        (["task=HumanoidAMP", "no_such_key=1"], "no_such_key", 2),
        (["task=HumanoidAMP", "num_envs=0"], "numEnvs (num_envs=) must be a positive integer, got 0", 1),
        (["task=HumanoidAMP", "num_envs=-3"], "must be a positive integer, got -3", 1),
        (["task=HumanoidAMP", "num_envs=many"], "must be an integer, got 'many'", 1),
        (["task=HumanoidAMP", "max_iterations=soon"], "max_epochs (max_iterations=) must be a positive integer", 1),
        (["task=HumanoidAMP", "task.env.episodeLength=long"], "task.env.episodeLength must be an integer", 1),
        (["task=HumanoidAMP", "task.env.motion_file=missing_clip.npy"], "missing_clip.npy: motion file not found", 1),
        (["task=HumanoidAMP", "checkpoint=nowhere/model.pth"], "does not exist", 1),
        (["task=HumanoidAMP", "train.params.config.reward_combine=max"], "reward_combine must be one of", 1),
        (["task=HumanoidAMP", "seed=abc"], "seed must be an integer", 1),
    ],
)
def test_bad_input_gets_one_line(tmp_path: Path, args: list[str], fragment: str, status: int) -> None:
    result = _launch(args, tmp_path)
    assert result.returncode == status, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and fragment in lines[0], lines[0]
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_checkpoint_for_other_sizes(trained: Path, tmp_path: Path) -> None:
    checkpoint = trained / "runs" / "smoke" / "nn" / "smoke.pth"
    result = _launch(
        [*SMALL_RUN, "train.params.network.mlp.units=[32,16]", f"checkpoint={checkpoint}", "test=True"], tmp_path
    )
    assert result.returncode == 1
    assert "trained for other sizes" in result.stderr.strip().splitlines()[-1]


def test_multi_gpu_without_torchrun_says_how(tmp_path: Path) -> None:
    result = _launch(["task=HumanoidAMP", "multi_gpu=True"], tmp_path)
    assert result.returncode == 1
    assert "torchrun" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    target = tmp_path / "model.pth"
    atomic_torch_save({"model": {"w": torch.ones(3)}}, target)

    class Explodes:
        def __reduce__(self) -> tuple:
            raise KeyboardInterrupt  # the run is killed in the middle of writing

    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"model": {"w": torch.zeros(3)}, "extra": Explodes()}, target)
    assert torch.load(target, weights_only=True)["model"]["w"].sum() == 3
    assert [p.name for p in tmp_path.iterdir()] == ["model.pth"]


def test_help_lists_the_main_keys_with_their_values(tmp_path: Path) -> None:
    result = _launch(["--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    for fragment in ("task=HumanoidAMP ", "max_iterations=5000 ", "num_threads=0 ", "checkpoint= "):
        assert fragment in result.stdout, fragment
    assert re.search(r"^  num_envs=(512|4096) ", result.stdout, re.MULTILINE)  # the CPU or the GPU default


def test_headless_false_says_it_runs_headless(tmp_path: Path) -> None:
    result = _launch(["task=HumanoidAMP", "headless=False", "num_envs=0"], tmp_path)  # stops at the bad num_envs
    assert "note: headless=False: there is no live viewer window" in result.stdout
