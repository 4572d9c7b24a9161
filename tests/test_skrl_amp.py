"""skrl's AMP agent on HumanoidAMP through our adapter: the wrapper's contract (AMP observations of the step taken,
auto-reset, falls and time-outs apart), a short training run whose discriminator loss falls, checkpoints that load and
refuse the wrong kind, the example script end to end, and the one-line error without skrl."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import SMALL_RUN, run_python

from isaacgymenvs.learning.skrl_options import skrl_overrides
from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError

pytestmark = pytest.mark.sim
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# skrl's agent follows some options at one value only (the logistic discriminator, ...), which our CPU defaults differ
# from.
SKRL_VALUES = skrl_overrides()


def _skrl_amp():
    pytest.importorskip("skrl")
    from isaacgymenvs.learning import skrl_amp

    return skrl_amp


def _config(overrides: list[str]) -> dict:
    from isaacgymenvs.launcher import _resolve, compose

    return _resolve(compose(overrides))


def _wrapper(skrl_amp, num_envs: int = 16, **env: object):
    from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

    task = HumanoidAMP(
        {"env": {"numEnvs": num_envs, "motion_file": "humanoid3d_walk", **env}, "sim": {}},
        rl_device="cpu",
        sim_device="cpu",
    )
    return skrl_amp.HumanoidAMPWrapper(task)


def test_wrapper_contract_amp_observations_and_auto_reset() -> None:
    skrl_amp = _skrl_amp()
    env = _wrapper(skrl_amp, num_envs=8, episodeLength=6)
    observations, _ = env.reset()
    assert observations.shape == (8, 105) and env.amp_observation_space.shape == (210,)
    saw_time_out = False
    for _ in range(12):
        observations, rewards, terminated, truncated, info = env.step(torch.zeros(8, 28))
        assert rewards.shape == terminated.shape == truncated.shape == (8, 1)
        assert terminated.dtype == truncated.dtype == torch.bool
        assert not (terminated & truncated).any()
        amp_obs = info["amp_obs"]
        assert amp_obs.shape == (8, 210)
        ended = (terminated | truncated).squeeze(-1)
        # The AMP observation's newest step is the state the action led to; a running env's observation is that
        # state, a finished env's observation is its new episode's first state.
        torch.testing.assert_close(observations[~ended], amp_obs[~ended, :105])
        if ended.any():
            assert not torch.allclose(observations[ended], amp_obs[ended, :105])
            assert (env.task.progress_buf[ended] == 0).all()
        saw_time_out |= bool(truncated.any())
    assert saw_time_out  # 6-step episodes
    assert env.task.fetch_amp_obs_demo(5).shape == (5, 210)


def test_train_config_translates_to_skrl() -> None:
    skrl_amp = _skrl_amp()
    env = _wrapper(skrl_amp)
    params = _config([*SMALL_RUN, *SKRL_VALUES])["train"]["params"]
    config = skrl_amp.agent_config(params, env, "runs", "x")
    assert (config.rollouts, config.learning_epochs, config.mini_batches) == (8, 2, 2)
    assert config.learning_rate == params["config"]["learning_rate"] > 0 and config.discriminator_batch_size == 64
    assert config.style_reward_scale == 2.0 and config.task_reward_scale == 0.0
    assert (
        config.discriminator_gradient_penalty_scale == 5.0 and config.discriminator_logit_regularization_scale == 0.05
    )
    assert config.value_loss_scale == 5.0 and config.grad_norm_clip == 0.0  # truncate_grads: False
    # What skrl's agent cannot do is refused, not silently replaced by the logistic discriminator or added rewards.
    for change in (
        {"disc_reward_type": "least_squares"},
        {"reward_combine": "mul", "task_reward_w": 1.0},
        {"amp_mask_constant_features": True},
        {"amp_warmup_steps": 2},
    ):
        changed = {**params, "config": {**params["config"], **change}}
        with pytest.raises(ConfigError, match="skrl's AMP agent has only the original's logistic discriminator"):
            skrl_amp.agent_config(changed, env, "runs", "x")
    for value, refused in ((True, True), ("auto", False), (False, False)):
        changed = {**params, "config": {**params["config"], "mixed_precision": value}}
        if refused:
            with pytest.raises(ConfigError, match="skrl's AMP agent is not run in mixed precision here"):
                skrl_amp.agent_config(changed, env, "runs", "x")
        else:
            skrl_amp.agent_config(changed, env, "runs", "x")


def test_the_example_trains_defaults_skrl_lacks_with_skrl_s_values(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("train_skrl_amp", PROJECT_ROOT / "examples" / "train_skrl_amp.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    ours = {"disc_reward_type": "least_squares", "amp_mask_constant_features": True, "amp_warmup_steps": 2}
    config = {"train": {"params": {"config": dict(ours)}}}
    example._skrl_values_unless_asked(config, ["seed=1"])
    assert config["train"]["params"]["config"] == {
        "disc_reward_type": "log",
        "amp_mask_constant_features": False,
        "amp_warmup_steps": 0,
    }
    printed = capsys.readouterr().out
    assert "skrl's AMP agent has only disc_reward_type log; the default least_squares is replaced by it" in printed
    assert "only amp_warmup_steps 0; the default 2 is replaced" in printed
    asked = {"train": {"params": {"config": dict(ours)}}}
    example._skrl_values_unless_asked(asked, ["train.params.config.disc_reward_type=least_squares"])
    assert asked["train"]["params"]["config"]["disc_reward_type"] == "least_squares"  # the adapter refuses it
    assert asked["train"]["params"]["config"]["amp_warmup_steps"] == 0


def test_a_short_run_lowers_the_discriminator_loss_and_its_checkpoint_loads(tmp_path: Path) -> None:
    skrl_amp = _skrl_amp()
    from isaacgymenvs.learning.checkpoints import CheckpointError
    from isaacgymenvs.utils.utils import set_seed

    set_seed(0)
    env = _wrapper(skrl_amp)
    params = _config([*SMALL_RUN, *SKRL_VALUES])["train"]["params"]
    agent = skrl_amp.build_agent(env, params, str(tmp_path), "run", total_updates=30)
    skrl_amp.train(env, agent, updates=30)  # 240 timesteps of 16 environments
    losses = [row["disc_loss"] for row in agent.history]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < 0.9 * sum(losses[:5]) / 5, losses
    path = tmp_path / "agent.pt"
    skrl_amp.save(agent, path)
    player = skrl_amp.build_agent(env, params, str(tmp_path), "play", training=False)
    player.init()
    skrl_amp.load(player, path)
    for name in ("policy", "value", "discriminator"):
        for mine, theirs in zip(player.models[name].parameters(), agent.models[name].parameters(), strict=True):
            torch.testing.assert_close(mine, theirs)
    result = skrl_amp.play(env, player, episodes=4)
    assert result["episodes"] == 4 and result["mean_episode_length"] > 0
    torch.save({"model": {}, "epoch": 1}, tmp_path / "rl_games.pth")
    with pytest.raises(CheckpointError, match="not a skrl AMP checkpoint"):
        skrl_amp.load(player, tmp_path / "rl_games.pth")


def _example(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return run_python([str(PROJECT_ROOT / "examples" / "train_skrl_amp.py"), *args], cwd)


def test_example_trains_saves_and_plays_back(tmp_path: Path) -> None:
    _skrl_amp()
    result = _example([*SMALL_RUN, "max_iterations=3", "experiment=ex"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "update 3/3" in result.stdout
    checkpoint = tmp_path / "runs" / "ex" / "checkpoints" / "ex.pt"
    assert checkpoint.is_file()
    assert list((tmp_path / "runs" / "ex").glob("events.out.tfevents.*"))
    played = _example(
        [*SMALL_RUN, "test=True", f"checkpoint={checkpoint}", "num_envs=4", "++train.params.config.player.games_num=4"],
        tmp_path,
    )
    assert played.returncode == 0, played.stderr[-2000:]
    assert "played 4 episodes" in played.stdout
    missing = _example([*SMALL_RUN, "test=True", "checkpoint=nope.pt"], tmp_path)
    lines = missing.stderr.strip().splitlines()
    assert missing.returncode == 1 and len(lines) == 1 and "nope.pt does not exist" in lines[0], missing.stderr


def test_without_skrl_the_import_says_how_to_install() -> None:
    code = "import sys; sys.modules['skrl'] = None\nimport isaacgymenvs.learning.skrl_amp"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "pip install -e '.[skrl]'" in result.stderr.strip().splitlines()[-1]


def test_learners_benchmark_compares_both_on_the_same_budget(tmp_path: Path) -> None:
    """``python -m isaacgymenvs.bench learners`` at a tiny size: both learners run, their progress lines parse, and the
    summary and plot come out with the same sample counts for both."""
    _skrl_amp()
    plot = tmp_path / "curves.png"
    bench = ["-m", "isaacgymenvs.bench", "learners", "--epochs", "4", "--plot", str(plot)]
    result = run_python([*bench, *SMALL_RUN[1:]], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line[:3] in ("| 1", "| 2", "| 3", "| 4", "| 5")]
    assert len(rows) == 8, result.stdout  # four quarters x two learners
    ours = [row.split("|")[1] for row in rows if "ours" in row]
    theirs = [row.split("|")[1] for row in rows if "skrl" in row]
    assert ours == theirs == [" 128 ", " 256 ", " 384 ", " 512 "], rows  # 16 envs x 8 steps per iteration
    assert "skrl / ours:" in result.stdout and plot.stat().st_size > 0
