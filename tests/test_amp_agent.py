"""The AMP learner on a fake environment (no simulator): the network, an update, checkpoints, the player."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from rl_games.torch_runner import Runner

from isaacgymenvs.learning import rollout_passes
from isaacgymenvs.learning.checkpoints import CheckpointError, load_checkpoint
from isaacgymenvs.learning.common_agent import fused_adam_available
from isaacgymenvs.learning.precision import FullPrecisionLinear
from isaacgymenvs.learning.registry import register_amp
from isaacgymenvs.utils.rlgames_utils import RLGPUAlgoObserver, register_rlgpu_env

OBS, ACTIONS, AMP_OBS = 105, 28, 210


class FakeAMPEnv:
    """An environment with HumanoidAMP's interface and trivial dynamics. The agent's AMP observations are centred on
    0 and the demonstrations on +1, so a discriminator can learn to tell them apart."""

    def __init__(self, num_envs: int, episode_length: int = 12) -> None:
        self.num_envs = num_envs
        self.observation_space = spaces.Box(-np.inf, np.inf, (OBS,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (ACTIONS,), dtype=np.float32)
        self.amp_observation_space = spaces.Box(-np.inf, np.inf, (AMP_OBS,), dtype=np.float32)
        self.episode_length = episode_length
        self.progress = torch.zeros(num_envs, dtype=torch.long)
        self.reset_buf = torch.ones(num_envs, dtype=torch.long)
        self.obs = torch.zeros(num_envs, OBS)
        self.demo_calls = 0

    def get_number_of_agents(self) -> int:
        return 1

    def reset(self) -> dict[str, torch.Tensor]:
        return {"obs": self.obs.clone()}

    def reset_done(self) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        ids = self.reset_buf.nonzero().flatten()
        self.obs[ids] = torch.randn(len(ids), OBS)
        self.progress[ids] = 0
        self.reset_buf[ids] = 0
        return {"obs": self.obs.clone()}, ids

    def step(self, actions: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict]:
        self.obs = 0.9 * self.obs + 0.1 * torch.randn_like(self.obs)
        self.obs[:, :ACTIONS] += 0.1 * actions
        self.progress += 1
        self.reset_buf = (self.progress >= self.episode_length - 1).long()
        extras = {
            "amp_obs": torch.randn(self.num_envs, AMP_OBS) * 0.5,
            "terminate": torch.zeros_like(self.reset_buf),
            "time_outs": self.reset_buf.clone(),
        }
        return {"obs": self.obs.clone()}, torch.ones(self.num_envs), self.reset_buf.clone(), extras

    def fetch_amp_obs_demo(self, num_samples: int) -> torch.Tensor:
        self.demo_calls += 1
        return torch.randn(num_samples, AMP_OBS) * 0.5 + 1.0

    def close(self) -> None:
        pass


def _params(tmp_path: Path, units: list[int], **overrides: Any) -> dict[str, Any]:
    network = {
        "name": "amp",
        "separate": True,
        "space": {
            "continuous": {
                "mu_activation": "None",
                "sigma_activation": "None",
                "mu_init": {"name": "default"},
                "sigma_init": {"name": "const_initializer", "val": -2.9},
                "fixed_sigma": True,
                "learn_sigma": False,
            }
        },
        "mlp": {
            "units": units,
            "activation": "relu",
            "d2rl": False,
            "initializer": {"name": "default"},
            "regularizer": {"name": "None"},
        },
        "disc": {"units": units, "activation": "relu", "initializer": {"name": "default"}},
    }
    config = {
        "name": "fake",
        "full_experiment_name": "fake",
        "env_name": "rlgpu",
        "ppo": True,
        "multi_gpu": False,
        "mixed_precision": False,
        "normalize_input": True,
        "normalize_value": True,
        "value_bootstrap": True,
        "num_actors": 8,
        "reward_shaper": {"scale_value": 1},
        "normalize_advantage": True,
        "gamma": 0.99,
        "tau": 0.95,
        "learning_rate": 3e-4,
        "lr_schedule": "constant",
        "kl_threshold": 0.008,
        "max_epochs": 3,
        "save_frequency": 0,
        "print_stats": False,
        "grad_norm": 1.0,
        "entropy_coef": 0.0,
        "truncate_grads": False,
        "e_clip": 0.2,
        "horizon_length": 8,
        "minibatch_size": 32,
        "mini_epochs": 2,
        "critic_coef": 5,
        "clip_value": False,
        "seq_length": 4,
        "bounds_loss_coef": 10,
        "amp_obs_demo_buffer_size": 256,
        "amp_replay_buffer_size": 512,
        "amp_replay_keep_prob": 0.01,
        "amp_batch_size": 32,
        "amp_minibatch_size": 32,
        "disc_coef": 5,
        "disc_logit_reg": 0.05,
        "disc_grad_penalty": 0.2,
        "disc_reward_scale": 2,
        "disc_weight_decay": 0.0001,
        "normalize_amp_input": True,
        "task_reward_w": 0.0,
        "disc_reward_w": 1.0,
        "device": "cpu",
        "device_name": "cpu",
        "torch_compile": False,
        "train_dir": str(tmp_path / "runs"),
        "player": {"games_num": 10, "deterministic": True, "print_stats": False},
    }
    config.update(overrides)
    return {
        "seed": 0,
        "algo": {"name": "amp_continuous"},
        "model": {"name": "continuous_amp"},
        "network": network,
        "config": config,
    }


def _runner(tmp_path: Path, units: list[int] | None = None, **overrides: Any) -> tuple[Runner, list[FakeAMPEnv]]:
    envs: list[FakeAMPEnv] = []

    def create(**_: Any) -> FakeAMPEnv:
        envs.append(FakeAMPEnv(8))
        return envs[-1]

    register_rlgpu_env(create)
    runner = Runner(algo_observer=RLGPUAlgoObserver())
    register_amp(runner)
    runner.load({"params": _params(tmp_path, units or [64, 32], **overrides)})
    return runner, envs


def _agent(runner: Runner) -> Any:
    return runner.algo_factory.create(runner.algo_name, base_name="run", params=copy.deepcopy(runner.params))


def _started_agent(runner: Runner) -> Any:
    """An agent ready for ``train_epoch``: buffers made, environments reset, demonstration buffer filled."""
    agent = _agent(runner)
    agent.init_tensors()
    agent.obs = agent.env_reset()
    agent._init_train()
    return agent


def test_disc_logit_init_scale_is_configurable(tmp_path: Path) -> None:
    """``network.disc.logit_init_scale`` sets the logit layer's uniform range (the original's 1.0 by default)."""
    runner, _ = _runner(tmp_path)
    runner.params["network"]["disc"]["logit_init_scale"] = 0.01
    weights = _agent(runner).model.a2c_network._disc_logits.weight
    assert 0.005 < weights.abs().max() <= 0.01


def test_a_learned_sigma_layer_stays_float32(tmp_path: Path) -> None:
    """Like the means and values, a state-dependent sigma (``fixed_sigma: False``) is an output layer kept in
    float32 under bfloat16 autocast, so the dataset can write the update's sigmas back into its float32 rows."""
    runner, _ = _runner(tmp_path)
    runner.params["network"]["space"]["continuous"].update(fixed_sigma=False, learn_sigma=True)
    network = _agent(runner).model.a2c_network
    assert type(network.sigma) is FullPrecisionLinear and type(network.mu) is FullPrecisionLinear
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert network.sigma(torch.ones(2, network.sigma.in_features)).dtype == torch.float32


def test_network_matches_the_original(tmp_path: Path) -> None:
    runner, _ = _runner(tmp_path, units=[1024, 512])
    agent = _agent(runner)
    network = agent.model.a2c_network

    def count(*modules: torch.nn.Module) -> int:
        return sum(p.numel() for module in modules for p in module.parameters())

    assert count(network.actor_mlp, network.mu) == 647708
    assert count(network.critic_mlp, network.value) == 633857
    assert count(network._disc_mlp, network._disc_logits) == 741377
    assert not network.sigma.requires_grad and torch.all(network.sigma == -2.9)
    assert network._disc_logits.weight.abs().max() <= 1.0 and torch.all(network._disc_logits.bias == 0)
    assert all(torch.all(m.bias == 0) for m in network.actor_mlp if isinstance(m, torch.nn.Linear))
    assert [w.numel() for w in network.get_disc_weights()] == [210 * 1024, 1024 * 512, 512]
    assert network.get_disc_logit_weights().shape == (512,)
    keys = set(agent.model.state_dict())
    for key in (
        "value_mean_std.running_mean",
        "running_mean_std.running_mean",
        "a2c_network.sigma",
        "a2c_network.actor_mlp.0.weight",
        "a2c_network.critic_mlp.2.bias",
        "a2c_network.value.weight",
        "a2c_network.mu.weight",
        "a2c_network._disc_mlp.0.weight",
        "a2c_network._disc_mlp.2.bias",
        "a2c_network._disc_logits.weight",
        "a2c_network._disc_logits.bias",
    ):
        assert key in keys, key
    assert tuple(agent.model.state_dict()["a2c_network._disc_mlp.0.weight"].shape) == (1024, 210)


def test_update_trains_the_discriminator(tmp_path: Path) -> None:
    torch.manual_seed(0)
    runner, envs = _runner(tmp_path)
    agent = _started_agent(runner)
    assert envs[0].demo_calls == 8  # 256 demo slots filled in batches of 32
    disc_losses, accuracies = [], []
    for _ in range(12):
        agent.epoch_num += 1
        info = agent.train_epoch()
        disc_losses.append(torch.stack(info["disc_loss"]).mean().item())
        accuracies.append(
            (torch.stack(info["disc_agent_acc"]).mean() + torch.stack(info["disc_demo_acc"]).mean()).item() / 2
        )
    assert disc_losses[-1] < disc_losses[0]
    assert accuracies[-1] > 0.9
    # The replay buffer filled with the rollouts' AMP observations; the style reward is finite.
    assert len(agent._amp_replay_buffer) > 0
    assert torch.isfinite(agent._last_disc_rewards).all()
    # Sigma stayed frozen while the rest learned.
    assert torch.all(agent.model.a2c_network.sigma == -2.9)


def test_least_squares_and_multiplicative_options(tmp_path: Path) -> None:
    torch.manual_seed(1)
    runner, _ = _runner(tmp_path, disc_reward_type="least_squares", reward_combine="mul", task_reward_w=1.0)
    agent = _started_agent(runner)
    agent.epoch_num = 1
    agent.train_epoch()
    rewards = agent._last_disc_rewards
    assert torch.all(rewards >= 0) and torch.all(rewards <= 2.0)  # least-squares rewards are in [0, scale]


def test_checkpoint_round_trip_and_checks(tmp_path: Path) -> None:
    runner, _ = _runner(tmp_path)
    agent = _agent(runner)
    agent.train()  # 3 epochs, writes runs/fake/nn/fake.pth
    path = tmp_path / "runs" / "fake" / "nn" / "fake.pth"
    state = load_checkpoint(path)
    assert {
        "model",
        "epoch",
        "frame",
        "optimizer",
        "last_mean_rewards",
        "env_state",
        "amp_input_mean_std",
        "amp_replay_buffer",
    } <= set(state)
    assert state["epoch"] == 3 and state["frame"] == 3 * 64
    assert state["amp_input_mean_std"]["running_mean"].shape == (AMP_OBS,)
    resumed = _agent(runner)
    resumed.restore(str(path))
    assert resumed.epoch_num == 3 and resumed.frame == 3 * 64
    # Adam is fused where torch has it, also after restoring an optimiser saved unfused (checkpoints before it).
    fused = fused_adam_available("cpu") or None
    assert agent.optimizer.param_groups[0]["fused"] is fused and resumed.optimizer.param_groups[0]["fused"] is fused
    unfused = copy.deepcopy(state)
    for group in unfused["optimizer"]["param_groups"]:
        group["fused"] = None
    resumed.set_full_state_weights(unfused)
    assert all(group["fused"] is fused for group in resumed.optimizer.param_groups)
    for parameter in resumed.model.parameters():
        parameter.grad = torch.ones_like(parameter) if parameter.requires_grad else None
    resumed.optimizer.step()  # the restored step counts suit the fused kernel
    assert len(resumed._amp_replay_buffer) == len(agent._amp_replay_buffer)
    torch.testing.assert_close(resumed._amp_input_mean_std.running_mean, agent._amp_input_mean_std.running_mean)
    # Other sizes: a network with other layer widths cannot load it.
    other_runner, _ = _runner(tmp_path, units=[32, 16])
    with pytest.raises(CheckpointError, match="trained for other sizes"):
        _agent(other_runner).restore(str(path))
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pth")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(tmp_path / "garbage.pth")


def test_player_plays_bounded_games(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner, _ = _runner(tmp_path, max_epochs=1)
    agent = _agent(runner)
    agent.train()
    player = runner.create_player()
    player.restore(str(tmp_path / "runs" / "fake" / "nn" / "fake.pth"))
    player.run()
    assert len(player.episode_lengths) >= 10
    assert "av reward" in capsys.readouterr().out


@pytest.mark.parametrize("mask", [True, False])
def test_features_constant_in_every_demonstration_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], mask: bool
) -> None:
    """With ``amp_mask_constant_features`` a feature that every demonstration has at one value (column 3 at 2.0, as
    the DeepMimic clips' frozen neck) reaches the discriminator at that value for the agent too; without it the
    agent's own values pass (the original)."""
    original_fetch = FakeAMPEnv.fetch_amp_obs_demo

    def fetch_with_a_constant(self: FakeAMPEnv, num_samples: int) -> torch.Tensor:
        demo = original_fetch(self, num_samples)
        demo[:, 3] = 2.0
        return demo

    monkeypatch.setattr(FakeAMPEnv, "fetch_amp_obs_demo", fetch_with_a_constant)
    torch.manual_seed(2)
    runner, _ = _runner(tmp_path, amp_mask_constant_features=mask)
    agent = _started_agent(runner)
    agent.set_eval()
    agent_obs = torch.randn(64, AMP_OBS)
    demo_row = agent._amp_obs_demo_buffer.sample(1)["amp_obs"]
    seen = agent._preproc_amp_obs(agent_obs)
    demo_seen = agent._preproc_amp_obs(demo_row)
    printed = capsys.readouterr().out
    if mask:
        assert "1 of" in printed and "constant over every demonstration" in printed
        assert torch.allclose(seen[:, 3], demo_seen[:, 3].expand(64))
        assert not torch.allclose(seen[:, 4], seen[:1, 4].expand(64))  # other features untouched
    else:
        assert "constant over every demonstration" not in printed
        assert seen[:, 3].std() > 0.1


def test_warmup_shows_the_newest_steps_until_the_episodes_are_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``amp_warmup_steps: 1`` on a 2-step window: the older step's normalised features reach the discriminator as 0
    until the training episodes (11 steps in the fake environment) average ``amp_warmup_episode_length``; then the
    whole window, for good and across a checkpoint."""
    monkeypatch.setattr(FakeAMPEnv, "num_amp_obs_per_step", OBS, raising=False)  # AMP_OBS = 2 steps of 105
    torch.manual_seed(3)
    runner, _ = _runner(tmp_path, amp_warmup_steps=1, amp_warmup_episode_length=11.0)
    agent = _started_agent(runner)
    amp_obs = torch.randn(16, AMP_OBS)
    agent.set_eval()
    seen = agent._preproc_amp_obs(amp_obs)
    assert torch.all(seen[:, OBS:] == 0) and torch.all(seen[:, :OBS] != 0)
    agent.epoch_num = 1
    agent.train_epoch()  # 8 steps: no episode has ended yet
    assert agent._amp_window_mask is not None and "whole" not in capsys.readouterr().out
    agent.epoch_num = 2
    agent.train_epoch()  # episodes of 11 steps end
    assert agent._amp_window_mask is None
    assert "epoch 2: training episodes average 11 steps; the discriminator now sees its whole 2-step window" in (
        capsys.readouterr().out
    )
    agent.set_eval()
    assert torch.all(agent._preproc_amp_obs(amp_obs)[:, OBS:] != 0)
    state = agent.get_full_state_weights()
    assert state["amp_window_open"] is True
    resumed = _agent(runner)
    assert resumed._amp_window_mask is not None
    resumed.set_full_state_weights(state)
    assert resumed._amp_window_mask is None


def test_warmup_waits_for_episodes_of_the_given_length(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeAMPEnv, "num_amp_obs_per_step", OBS, raising=False)
    torch.manual_seed(4)
    runner, _ = _runner(tmp_path, amp_warmup_steps=1, amp_warmup_episode_length=12.0)
    agent = _started_agent(runner)
    for epoch in (1, 2, 3):
        agent.epoch_num = epoch
        agent.train_epoch()
    assert agent._amp_window_mask is not None and agent.get_full_state_weights()["amp_window_open"] is False


@pytest.mark.parametrize("pass_rows", [32768, 16])
def test_rollout_values_are_the_critics_values_of_the_states_acted_in_and_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pass_rows: int
) -> None:
    """The rollout's values and next values, computed in passes after it (one, or two steps of 8 environments per
    pass), are the critic's values of each step's state and next state, evaluated alone as the original did at every
    step, and the next value is zero where that step's episode terminated. Episodes end within the rollout both ways
    (falls, and time-outs, whose reached state is not the next step's), and each ended one restarts elsewhere."""
    monkeypatch.setattr(rollout_passes, "CRITIC_PASS_ROWS", pass_rows)
    torch.manual_seed(0)
    runner, envs = _runner(tmp_path)
    agent = _started_agent(runner)
    env = envs[0]
    env.episode_length = 4  # time-outs at the third step of each episode
    plain_step = env.step

    def step_with_falls(actions: torch.Tensor) -> tuple:
        obs, rewards, _, extras = plain_step(actions)
        extras["terminate"] = (torch.rand(env.num_envs) < 0.3).long()
        env.reset_buf |= extras["terminate"]  # a fall resets at the next step, as in the task
        return obs, rewards, env.reset_buf.clone(), extras

    env.step = step_with_falls
    agent.set_eval()
    with torch.no_grad():
        agent.play_steps()
    buffer = agent.experience_buffer.tensor_dict
    terminated = buffer["terminated"]
    assert 0 < float(terminated.mean()) < 1
    timed_out = (buffer["dones"][:-1] != 0) & (terminated[:-1, :, 0] == 0)
    assert timed_out.any()
    # A time-out's state reached is not the state the next step acted in (the new episode's start).
    assert not torch.equal(buffer["next_obses"][:-1][timed_out], buffer["obses"][1:][timed_out])
    assert agent._values_after_rollout  # separate actor and critic: the rollout ran the actor alone
    for step in range(agent.horizon_length):
        alone = agent._eval_critic({"obs": buffer["next_obses"][step]}) * (1.0 - terminated[step])
        torch.testing.assert_close(buffer["next_values"][step], alone, rtol=1e-5, atol=1e-5)
        with torch.no_grad():
            played = agent.get_action_values({"obs": buffer["obses"][step]})
        torch.testing.assert_close(buffer["values"][step], played["values"], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(buffer["mus"][step], played["mus"], rtol=1e-5, atol=1e-5)
    assert float(buffer["next_values"][terminated.bool()].abs().max()) == 0
    assert float(buffer["next_values"][~terminated.bool()].abs().min()) > 0
    assert float(buffer["values"].abs().min()) > 0


def test_the_actor_alone_draws_the_actions_the_full_pass_draws(tmp_path: Path) -> None:
    """The rollout's actor-only pass gives the same actions (the same random draws), log-probabilities, means and
    sigmas as rl_games' full forward pass, in float32 and under bfloat16 autocast."""
    runner, _ = _runner(tmp_path)
    agent = _started_agent(runner)
    obs = {"obs": torch.randn(8, agent.obs_shape[0]) * 2.0}
    for mixed in (False, True):
        agent.mixed_precision = mixed
        torch.manual_seed(3)
        actor_only = agent._act(obs)
        torch.manual_seed(3)
        with torch.no_grad():
            full = agent.get_action_values(obs)
        assert set(actor_only) == {"actions", "neglogpacs", "mus", "sigmas"}
        for key, value in actor_only.items():
            torch.testing.assert_close(value, full[key], rtol=0, atol=0, msg=key)
