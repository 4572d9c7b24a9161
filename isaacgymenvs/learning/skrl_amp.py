"""skrl 2.x's AMP agent on our HumanoidAMP task: an environment wrapper, the three models, and our train config
(``train.params``) translated into skrl's ``AMP_CFG``, so that the two learners run on one task, seed, budget and set of
network sizes.

skrl is an optional extra (``pip install -e .[skrl]``); importing this module without it fails with one line saying
so. What the wrapper gives skrl (its contract, ``skrl.envs.wrappers.torch.base.Wrapper``):

* ``step(actions)`` returns ``(observations [N, 105], rewards [N, 1], terminated [N, 1], truncated [N, 1], info)``;
  ``terminated`` are falls (no bootstrapping), ``truncated`` time-outs; ``info["amp_obs"]`` ``[N, K * 105]`` is the
  step's AMP observation, copied before any reset touches the history it comes from.
* Finished environments are reset inside ``step`` (skrl's trainer does not reset vectorised environments): the returned
  observations of those rows are their new episode's first.
* ``collect_reference_motions(n)`` is the task's ``fetch_amp_obs_demo``.

The discriminator loss, its regularisers and the style reward ``-log(max(1 - sigmoid(logit), 1e-4))`` are the
original's. Where skrl differs by design (kept as it is): it has no action-bounds loss (actions are clipped to [-1, 1]
instead); a time-out bootstraps from the next stored value, which after the auto-reset is the new episode's first state
(the original: the value of the state the episode timed out in; falls bootstrap from 0 in both); its replay buffer
takes every agent sample (the original keeps 1 % once full); and its networks start from PyTorch's default
initialisation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium
import torch
from torch import nn

try:
    import skrl
    from skrl.agents.torch.amp import AMP, AMP_CFG
    from skrl.envs.wrappers.torch.base import Wrapper
    from skrl.memories.torch import RandomMemory
    from skrl.models.torch import DeterministicMixin, GaussianMixin, Model
    from skrl.resources.preprocessors.torch import RunningStandardScaler
except ImportError as error:  # skrl missing, or a 1.x release with another layout
    raise ImportError(
        f"the skrl adapter needs skrl 2.x ({error}); install the optional extra: pip install -e '.[skrl]'"
    ) from None

from isaacgymenvs.learning.amp_config import AMPConfig, check_train_params
from isaacgymenvs.learning.checkpoints import CheckpointError, atomic_torch_save, read_checkpoint_file
from isaacgymenvs.learning.skrl_options import SKRL_AMP_VALUES
from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

SKRL_VERSION = skrl.__version__
if int(SKRL_VERSION.split(".")[0]) < 2:
    raise ImportError(f"the skrl adapter needs skrl 2.x, found {SKRL_VERSION}; pip install -e '.[skrl]'")


class HumanoidAMPWrapper(Wrapper):
    """:class:`HumanoidAMP` as a skrl environment (see the module docstring for the contract)."""

    def __init__(self, task: HumanoidAMP) -> None:
        super().__init__(task)
        self._task = task
        self._observations: torch.Tensor | None = None

    @property
    def task(self) -> HumanoidAMP:
        return self._task

    @property
    def device(self) -> torch.device:
        return torch.device(self._task.rl_device)

    @property
    def num_envs(self) -> int:
        return self._task.num_envs

    @property
    def observation_space(self) -> gymnasium.Space:
        return self._task.observation_space

    @property
    def action_space(self) -> gymnasium.Space:
        return self._task.action_space

    @property
    def amp_observation_space(self) -> gymnasium.Space:
        return self._task.amp_observation_space

    def reset(self) -> tuple[torch.Tensor, dict[str, Any]]:
        """Every environment's observation; the first call starts every episode (later ones change nothing: finished
        environments are reset in :meth:`step`)."""
        if self._observations is None:
            obs_dict, _ = self._task.reset_done()  # reset_buf starts all ones
            self._observations = obs_dict["obs"].clone()
        return self._observations, {}

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Any]:
        if self._observations is None:
            self.reset()
        _, rewards, resets, extras = self._task.step(actions)
        terminated = extras["terminate"].bool()
        truncated = resets.bool() & ~terminated
        info = {"amp_obs": extras["amp_obs"].clone(), "time_outs": truncated.clone()}
        obs_dict, _ = self._task.reset_done()  # finished environments start over
        self._observations = obs_dict["obs"].clone()
        return self._observations, rewards.unsqueeze(-1), terminated.unsqueeze(-1), truncated.unsqueeze(-1), info

    def state(self) -> torch.Tensor | None:
        return None

    def render(self, *args: Any, **kwargs: Any) -> None:
        return None

    def close(self) -> None:
        self._task.close()


def _mlp(inputs: int, units: Sequence[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width in units:
        layers += [nn.Linear(inputs, width), nn.ReLU()]
        inputs = width
    return layers


class Policy(GaussianMixin, Model):
    """Gaussian policy: an MLP for the mean, a fixed log standard deviation (the original's ``sigma_init`` -2.9,
    ``fixed_sigma``, not learned); actions clipped to the action space as rl_games clips them."""

    def __init__(
        self,
        observation_space: gymnasium.Space,
        action_space: gymnasium.Space,
        device: torch.device,
        units: Sequence[int],
        log_std: float,
    ) -> None:
        Model.__init__(self, observation_space=observation_space, action_space=action_space, device=device)
        GaussianMixin.__init__(self, clip_actions=True, clip_log_std=False, role="policy")
        self.net = nn.Sequential(*_mlp(self.num_observations, units), nn.Linear(units[-1], self.num_actions))
        self.log_std = nn.Parameter(torch.full((self.num_actions,), float(log_std)), requires_grad=False)

    def compute(self, inputs: Mapping[str, Any], role: str = "") -> tuple[torch.Tensor, dict[str, Any]]:
        mean = self.net(inputs["observations"])
        return mean, {"log_std": self.log_std.expand_as(mean)}


class MLPHead(DeterministicMixin, Model):
    """An MLP with one output: the value function, or the discriminator (whose last module is its logit layer, which
    skrl's logit regulariser reads)."""

    def __init__(
        self,
        observation_space: gymnasium.Space,
        action_space: gymnasium.Space,
        device: torch.device,
        units: Sequence[int],
        role: str,
    ) -> None:
        Model.__init__(self, observation_space=observation_space, action_space=action_space, device=device)
        DeterministicMixin.__init__(self, clip_actions=False, role=role)
        self.net = nn.Sequential(*_mlp(self.num_observations, units), nn.Linear(units[-1], 1))

    def compute(self, inputs: Mapping[str, Any], role: str = "") -> tuple[torch.Tensor, dict[str, Any]]:
        return self.net(inputs["observations"]), {}


def agent_config(
    params: Mapping[str, Any], env: HumanoidAMPWrapper, experiment_dir: str, experiment_name: str, training: bool = True
) -> AMP_CFG:
    """skrl's ``AMP_CFG`` from our ``train.params`` (checked first) for ``num_envs`` environments: the same horizon,
    mini-epochs, minibatch count, learning rate, clipping, loss weights, discriminator regularisers, reward weights and
    input normalisation. Logs once per update; checkpoints every ``save_frequency`` updates."""
    num_envs, device = env.num_envs, env.device
    amp: AMPConfig = check_train_params(params, num_envs, training=training)[0]
    unsupported = [
        f"train.params.config.{key}={value}"
        for key, value in SKRL_AMP_VALUES.items()
        if getattr(getattr(amp, key), "value", getattr(amp, key)) != value
    ]
    if unsupported:
        raise ConfigError(
            "skrl's AMP agent has only the original's logistic discriminator and added rewards, and no feature mask "
            "or warm-up window; set " + " ".join(unsupported)
        )
    config = params["config"]
    if config.get("mixed_precision", False) is True:  # "auto" is a preference; an explicit True is not kept
        raise ConfigError(
            "skrl's AMP agent is not run in mixed precision here; set train.params.config.mixed_precision=auto or False"
        )
    horizon = int(config["horizon_length"])
    normalize_input = bool(config.get("normalize_input", True))
    normalize_value = bool(config.get("normalize_value", True))
    return AMP_CFG(
        rollouts=horizon,
        learning_epochs=int(config["mini_epochs"]),
        mini_batches=max(1, horizon * num_envs // int(config["minibatch_size"])),
        discount_factor=float(config["gamma"]),
        gae_lambda=float(config["tau"]),
        learning_rate=float(config["learning_rate"]),
        grad_norm_clip=float(config.get("grad_norm", 1.0)) if config.get("truncate_grads", False) else 0.0,
        ratio_clip=float(config["e_clip"]),
        value_clip=float(config["e_clip"]) if config.get("clip_value", False) else 0.0,
        entropy_loss_scale=float(config.get("entropy_coef", 0.0)),
        value_loss_scale=float(config["critic_coef"]),
        discriminator_loss_scale=amp.disc_coef,
        amp_batch_size=amp.amp_batch_size,
        task_reward_scale=amp.task_reward_w,
        style_reward_scale=amp.disc_reward_w * amp.disc_reward_scale,
        discriminator_batch_size=amp.amp_minibatch_size,
        discriminator_logit_regularization_scale=amp.disc_logit_reg,
        discriminator_gradient_penalty_scale=amp.disc_grad_penalty,
        discriminator_weight_decay_scale=amp.disc_weight_decay,
        time_limit_bootstrap=False,
        observation_preprocessor=RunningStandardScaler if normalize_input else None,
        observation_preprocessor_kwargs={"size": env.observation_space, "device": device},
        value_preprocessor=RunningStandardScaler if normalize_value else None,
        value_preprocessor_kwargs={"size": 1, "device": device},
        amp_observation_preprocessor=RunningStandardScaler if amp.normalize_amp_input else None,
        amp_observation_preprocessor_kwargs={"size": env.amp_observation_space, "device": device},
        experiment={
            "directory": experiment_dir,
            "experiment_name": experiment_name,
            "write_interval": horizon,
            "checkpoint_interval": horizon * int(config.get("save_frequency", 0)),
        },
    )


class ReportingAMP(AMP):
    """skrl's AMP agent, printing one progress line per update (skrl itself only draws a progress bar)."""

    def __init__(self, *args: Any, total_updates: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._total_updates = total_updates
        self._updates = 0
        self._last_report = time.perf_counter()
        self.history: list[dict[str, float]] = []  # per update: frames, disc_loss, episode_length (nan before any)

    def update(self, *, timestep: int, timesteps: int) -> None:
        super().update(timestep=timestep, timesteps=timesteps)
        self._updates += 1
        now = time.perf_counter()
        samples = self.cfg.rollouts * self.memory.num_envs
        lengths = self.tracking_data.get("Episode / Total timesteps (mean)")
        length = f"{lengths[-1]:.1f}" if lengths else "n/a"
        # skrl logs the loss times discriminator_loss_scale (disc_coef); report it unscaled, as rl_games logs it
        disc_loss = self.tracking_data["Loss / Discriminator loss"][-1] / (self.cfg.discriminator_loss_scale or 1.0)
        frames = (timestep + 1) * self.memory.num_envs
        self.history.append(
            {"frames": frames, "disc_loss": disc_loss, "episode_length": lengths[-1] if lengths else float("nan")}
        )
        print(
            f"update {self._updates}/{self._total_updates} | frames {frames} | "
            f"{samples / (now - self._last_report):.0f} samples/s | episode length {length} | "
            f"disc loss {disc_loss:.3f}",
            flush=True,
        )
        self._last_report = now


def build_agent(
    env: HumanoidAMPWrapper,
    params: Mapping[str, Any],
    experiment_dir: str,
    experiment_name: str,
    training: bool = True,
    total_updates: int = 0,
) -> AMP:
    """skrl's AMP agent for ``env`` with our ``train.params``: networks of ``network.mlp.units`` (separate policy and
    value MLPs, ReLU) and ``network.disc.units``; for ``training``, the rollout memory and the demonstration and replay
    buffers (the demonstration buffer is filled when the agent is initialised)."""
    device = env.device
    config = agent_config(params, env, experiment_dir, experiment_name, training)
    network = params["network"]
    units = list(network["mlp"]["units"])
    log_std = float(network["space"]["continuous"]["sigma_init"]["val"])
    models = {
        "policy": Policy(env.observation_space, env.action_space, device, units, log_std),
        "value": MLPHead(env.observation_space, env.action_space, device, units, role="value"),
        "discriminator": MLPHead(
            env.amp_observation_space, env.action_space, device, list(network["disc"]["units"]), role="discriminator"
        ),
    }
    amp = AMPConfig.from_config(params["config"])
    buffers: dict[str, Any] = {}
    if training:
        buffers = {
            "memory": RandomMemory(memory_size=config.rollouts, num_envs=env.num_envs, device=device),
            "motion_dataset": RandomMemory(memory_size=amp.amp_obs_demo_buffer_size, device=device),
            "reply_buffer": RandomMemory(memory_size=amp.amp_replay_buffer_size, device=device),
        }
    else:
        config.experiment.update(write_interval=0, checkpoint_interval=0)  # playing writes nothing
    return ReportingAMP(
        models=models,
        observation_space=env.observation_space,
        action_space=env.action_space,
        device=device,
        cfg=config,
        amp_observation_space=env.amp_observation_space,
        collect_reference_motions=env.task.fetch_amp_obs_demo,
        total_updates=total_updates,
        **buffers,
    )


def train(env: HumanoidAMPWrapper, agent: AMP, updates: int) -> None:
    """``updates`` rollouts and updates with skrl's sequential trainer (its progress bar off: the agent reports)."""
    from skrl.trainers.torch import SequentialTrainer

    trainer = SequentialTrainer(
        env=env,
        agents=agent,
        cfg={
            "timesteps": updates * agent.cfg.rollouts,
            "headless": True,
            "disable_progressbar": True,
            "close_environment_at_exit": False,
        },
    )
    trainer.train()


def save(agent: AMP, path: str | Path) -> None:
    """The agent's modules (networks, optimiser, normalisers) to ``path``, never a half-written file."""
    atomic_torch_save(
        {name: agent._get_internal_value(module) for name, module in agent.checkpoint_modules.items()}, path
    )


def load(agent: AMP, path: str | Path) -> None:
    """Restore :func:`save`'s (or skrl's own) checkpoint; :class:`CheckpointError` in one line when the file is
    missing, unreadable or not a skrl AMP checkpoint (e.g. an rl_games one)."""
    state = read_checkpoint_file(path)
    if not isinstance(state, dict) or not {"policy", "value", "discriminator"} <= set(state):
        raise CheckpointError(
            f"checkpoint {path} is not a skrl AMP checkpoint (an rl_games one plays with launch.py test=True)"
        )
    agent.load(str(path))


def play(env: HumanoidAMPWrapper, agent: AMP, episodes: int) -> dict[str, float]:
    """Run the policy's mean actions until ``episodes`` episodes have ended; their mean length and fall rate."""
    agent.enable_training_mode(False, apply_to_models=True)
    observations, _ = env.reset()
    steps = torch.zeros(env.num_envs, device=env.device)
    lengths: list[float] = []
    falls = 0
    while len(lengths) < episodes:
        with torch.no_grad():
            _, outputs = agent.act(observations, None, timestep=0, timesteps=0)
        observations, _, terminated, truncated, _ = env.step(outputs["mean_actions"].clamp(-1.0, 1.0))
        steps += 1
        ended = (terminated | truncated).squeeze(-1)
        for index in ended.nonzero().flatten().tolist()[: episodes - len(lengths)]:
            lengths.append(float(steps[index]))
            falls += int(terminated[index])
        steps[ended] = 0
    return {
        "episodes": len(lengths),
        "mean_episode_length": sum(lengths) / len(lengths),
        "fall_rate": falls / len(lengths),
    }
