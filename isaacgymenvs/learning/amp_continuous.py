"""``AMPAgent``: the AMP learner (spec section 8) on :class:`~isaacgymenvs.learning.common_agent.CommonAgent`.

Per epoch: a rollout that also stores every step's AMP observation (``extras["amp_obs"]``); the discriminator's
reward for those, combined with the task reward; 512 fresh demonstrations into the demo buffer; demo and replay
samples paired with the batch; PPO and discriminator losses in one backward pass per minibatch; then the rollout's
AMP observations into the replay buffer (all of them until it is full, then each with probability 0.01).

The losses are the pure functions of :mod:`isaacgymenvs.learning.amp_losses`; options beyond the original are
``reward_combine: mul``, ``disc_reward_type: least_squares``, ``amp_mask_constant_features`` and a warm-up in which the
discriminator sees only the newest steps of its window until the policy stays up (``amp_warmup_steps``;
:class:`~isaacgymenvs.learning.amp_config.AMPConfig`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist
from rl_games.algos_torch import torch_ext

from isaacgymenvs.learning import amp_losses
from isaacgymenvs.learning.amp_config import AMPConfig
from isaacgymenvs.learning.common_agent import CommonAgent
from isaacgymenvs.learning.replay_buffer import ReplayBuffer
from isaacgymenvs.learning.running_stats import TwoPassRunningMeanStd

# The dataset's AMP observations: the rollout's, the demonstrations' and the replay's, one row per sample.
_AMP_DATASET_KEYS = ("amp_obs", "amp_obs_demo", "amp_obs_replay")

# Logged discriminator quantities (TensorBoard name under info/ = key).
_DISC_INFO = (
    "disc_agent_acc",
    "disc_demo_acc",
    "disc_agent_logit",
    "disc_demo_logit",
    "disc_grad_penalty",
    "disc_logit_loss",
)


class AMPAgent(CommonAgent):
    """PPO + adversarial motion prior. Needs an environment with ``amp_observation_space``, ``extras["amp_obs"]`` and
    ``fetch_amp_obs_demo(n)`` (HumanoidAMP)."""

    def __init__(self, base_name: str, params: dict[str, Any]) -> None:
        super().__init__(base_name, params)
        amp = self.amp
        if amp.normalize_amp_input:
            self._amp_input_mean_std = TwoPassRunningMeanStd(self._amp_observation_space.shape).to(self.ppo_device)
        self._amp_obs_demo_buffer = ReplayBuffer(amp.amp_obs_demo_buffer_size, self.ppo_device)
        self._amp_replay_buffer = ReplayBuffer(amp.amp_replay_buffer_size, self.ppo_device)
        self._last_disc_rewards: torch.Tensor | None = None
        self._episode_ends = 0
        self._falls = 0
        self._latest_amp_obs: torch.Tensor | None = None
        self._amp_constant_mask: torch.Tensor | None = None
        self._amp_constant_values: torch.Tensor | None = None
        self._amp_window_steps, self._amp_window_mask = self._warmup_window()
        # calc_gradients reads the first amp_minibatch_size rows of each minibatch's AMP observations.
        self.dataset.read_head_only(_AMP_DATASET_KEYS, amp.amp_minibatch_size)

    def _load_config_params(self, config: dict[str, Any]) -> None:
        super()._load_config_params(config)
        self.amp = AMPConfig.from_config(config)
        self._amp_observation_space = self.env_info["amp_observation_space"]
        if self.amp.amp_minibatch_size > self.minibatch_size:
            raise ValueError(
                f"amp_minibatch_size ({self.amp.amp_minibatch_size}) must be at most minibatch_size "
                f"({self.minibatch_size})"
            )

    def _build_net_config(self) -> dict[str, Any]:
        return {**super()._build_net_config(), "amp_input_shape": self._amp_observation_space.shape}

    def init_tensors(self) -> None:
        super().init_tensors()
        buffer = self.experience_buffer
        buffer.tensor_dict["amp_obs"] = torch.zeros(
            buffer.obs_base_shape + self._amp_observation_space.shape, device=self.ppo_device
        )
        self.tensor_list += ["amp_obs"]

    def set_eval(self) -> None:
        super().set_eval()
        if self.amp.normalize_amp_input:
            self._amp_input_mean_std.eval()

    def set_train(self) -> None:
        super().set_train()
        if self.amp.normalize_amp_input:
            self._amp_input_mean_std.train()

    def _rank_shared_modules(self) -> list[torch.nn.Module]:
        shared = super()._rank_shared_modules()
        return [*shared, self._amp_input_mean_std] if self.amp.normalize_amp_input else shared

    # --- the discriminator's window -------------------------------------------------------------------------------

    def _warmup_window(self) -> tuple[int, torch.Tensor | None]:
        """The window's length in control steps, and the mask ``[F]`` (ones on the newest ``amp_warmup_steps`` steps'
        features, which lead each AMP observation) that the normalised discriminator inputs take until the policy
        stays up; None when the whole window is seen from the start."""
        size = self._amp_observation_space.shape[0]
        per_step = getattr(self.vec_env.env, "num_amp_obs_per_step", size)
        steps = size // per_step
        if not 0 < self.amp.amp_warmup_steps < steps:
            return steps, None
        mask = torch.zeros(size, device=self.ppo_device)
        mask[: self.amp.amp_warmup_steps * per_step] = 1.0
        return steps, mask

    def _maybe_open_window(self) -> None:
        """Open the whole window for good once the training episodes that ended average ``amp_warmup_episode_length``
        steps (over every rank, so that all ranks open it in the same epoch)."""
        if self._amp_window_mask is None:
            return
        meter = self.game_lengths
        length = torch.tensor(float(meter.get_mean()) if meter.current_size > 0 else 0.0)
        if self.multi_gpu:
            length = length.to(self.ppo_device)
            dist.all_reduce(length)
            length /= self.world_size
        if float(length) >= self.amp.amp_warmup_episode_length:
            self._amp_window_mask = None
            if self.global_rank == 0:
                print(
                    f"note: epoch {self.epoch_num}: training episodes average {float(length):.0f} steps; the "
                    f"discriminator now sees its whole {self._amp_window_steps}-step window (amp_warmup_steps)",
                    flush=True,
                )

    # --- demonstrations and replay --------------------------------------------------------------------------------

    def _fetch_amp_obs_demo(self, num_samples: int) -> torch.Tensor:
        return self.vec_env.env.fetch_amp_obs_demo(num_samples).to(self.ppo_device)

    def _init_train(self) -> None:
        """Fill the demo buffer once, in batches of ``amp_batch_size``; find the features constant over all of it."""
        batches = math.ceil(self._amp_obs_demo_buffer.size / self.amp.amp_batch_size)
        low = high = None
        for _ in range(batches):
            demo = self._fetch_amp_obs_demo(self.amp.amp_batch_size)
            self._amp_obs_demo_buffer.store({"amp_obs": demo})
            if self.amp.amp_mask_constant_features:  # the range is only needed to find constant features
                low = demo.amin(0) if low is None else torch.minimum(low, demo.amin(0))
                high = demo.amax(0) if high is None else torch.maximum(high, demo.amax(0))
            self._maybe_print_progress("filling the demonstration buffer")
        if low is not None and high is not None:
            self._set_constant_features(low, high)

    def _set_constant_features(self, low: torch.Tensor, high: torch.Tensor) -> None:
        """Features whose demonstrations all have one value (to float rounding) are masked to it."""
        constant = (high - low) <= 1e-6 * (1.0 + high.abs())
        self._amp_constant_mask = constant
        self._amp_constant_values = torch.where(constant, low, torch.zeros_like(low))
        if bool(constant.any()) and self.global_rank == 0:
            print(
                f"note: {int(constant.sum())} of {constant.numel()} AMP features are constant over every "
                "demonstration; the discriminator sees the clip's value for them (amp_mask_constant_features)",
                flush=True,
            )

    def _update_amp_demos(self) -> None:
        self._amp_obs_demo_buffer.store({"amp_obs": self._fetch_amp_obs_demo(self.amp.amp_batch_size)})

    def _store_replay_amp_obs(self, amp_obs: torch.Tensor) -> None:
        buffer = self._amp_replay_buffer
        if buffer.get_total_count() > buffer.size:
            keep = (
                torch.bernoulli(torch.full((amp_obs.shape[0],), self.amp.amp_replay_keep_prob, device=amp_obs.device))
                == 1
            )
            amp_obs = amp_obs[keep]
        if amp_obs.shape[0] > buffer.size:
            amp_obs = amp_obs[: buffer.size]
        if amp_obs.shape[0] > 0:
            buffer.store({"amp_obs": amp_obs})

    # --- the rollout ----------------------------------------------------------------------------------------------

    def _record_step(self, step: int, infos: dict[str, Any]) -> None:
        self.experience_buffer.update_data("amp_obs", step, infos["amp_obs"])
        dones = self.dones.bool()
        self._episode_ends += int(dones.sum())
        self._falls += int((dones & infos["terminate"].bool().to(dones.device)).sum())

    def _rollout_rewards(self, rewards: torch.Tensor) -> dict[str, torch.Tensor]:
        disc_rewards = self._calc_disc_rewards(self.experience_buffer.tensor_dict["amp_obs"])
        combined = amp_losses.combine_rewards(
            rewards, disc_rewards, self.amp.task_reward_w, self.amp.disc_reward_w, self.amp.reward_combine
        )
        return {"rewards": combined, "disc_rewards": disc_rewards}

    def _preproc_amp_obs(self, amp_obs: torch.Tensor) -> torch.Tensor:
        """Normalise (and, in training mode, update the statistics with) AMP observations; features constant in the
        demonstrations first take the demonstrations' value (``amp_mask_constant_features``)."""
        if self._amp_constant_mask is not None:
            amp_obs = torch.where(self._amp_constant_mask, self._amp_constant_values, amp_obs)
        if self.amp.normalize_amp_input:
            amp_obs = self._amp_input_mean_std(amp_obs)
        # Masked after normalising, so that the statistics of the older steps are ready when the window opens.
        return amp_obs if self._amp_window_mask is None else amp_obs * self._amp_window_mask

    def _calc_disc_rewards(self, amp_obs: torch.Tensor) -> torch.Tensor:
        """Discriminator rewards ``[..., 1]`` of AMP observations ``[..., F]`` (normaliser in eval mode)."""
        with torch.no_grad(), self._networks_autocast():
            logits = self.model.a2c_network.eval_disc(self._preproc_amp_obs(amp_obs))
            return amp_losses.disc_reward(logits, self.amp.disc_reward_type, self.amp.disc_reward_scale)

    # --- the update -----------------------------------------------------------------------------------------------

    def _before_update(self, batch_dict: dict[str, Any]) -> None:
        self._maybe_open_window()
        self._update_amp_demos()
        count = batch_dict["amp_obs"].shape[0]
        batch_dict["amp_obs_demo"] = self._amp_obs_demo_buffer.sample(count)["amp_obs"]
        if len(self._amp_replay_buffer) == 0:  # first epoch: the rollout itself stands in for the replay
            batch_dict["amp_obs_replay"] = batch_dict["amp_obs"]
        else:
            batch_dict["amp_obs_replay"] = self._amp_replay_buffer.sample(count)["amp_obs"]

    def prepare_dataset(self, batch_dict: dict[str, Any]) -> None:
        super().prepare_dataset(batch_dict)
        for key in _AMP_DATASET_KEYS:
            self.dataset.values_dict[key] = batch_dict[key]

    def _after_update(self, batch_dict: dict[str, Any]) -> None:
        self._store_replay_amp_obs(batch_dict["amp_obs"])
        self._last_disc_rewards = batch_dict["disc_rewards"]
        self._latest_amp_obs = batch_dict["amp_obs"]

    def calc_gradients(self, input_dict: dict[str, torch.Tensor]) -> None:
        size = self.amp.amp_minibatch_size
        amp_obs = self._preproc_amp_obs(input_dict["amp_obs"][:size])
        amp_obs_replay = self._preproc_amp_obs(input_dict["amp_obs_replay"][:size])
        amp_obs_demo = self._preproc_amp_obs(input_dict["amp_obs_demo"][:size])
        # The gradient penalty is taken with respect to the normalised demonstrations.
        amp_obs_demo.requires_grad_(True)
        batch_dict = {
            "is_train": True,
            "prev_actions": input_dict["actions"],
            "obs": self._preproc_obs(input_dict["obs"]),
            "amp_obs": amp_obs,
            "amp_obs_replay": amp_obs_replay,
            "amp_obs_demo": amp_obs_demo,
        }
        with self._networks_autocast():
            res_dict = self.model(batch_dict)
        ppo_loss, ppo_info = self._ppo_losses(input_dict, res_dict)
        agent_logits = torch.cat([res_dict["disc_agent_logit"], res_dict["disc_agent_replay_logit"]], dim=0)
        disc_info = self._disc_losses(agent_logits, res_dict["disc_demo_logit"], amp_obs_demo)
        loss = ppo_loss + self.amp.disc_coef * disc_info["disc_loss"]
        self._step_optimizer(loss)
        disc_info = {key: value.detach() for key, value in disc_info.items()}
        self.train_result = {**ppo_info, **disc_info, **self._kl_info(input_dict, res_dict)}

    def _disc_losses(
        self, agent_logits: torch.Tensor, demo_logits: torch.Tensor, demo_obs: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The discriminator's total loss and its logged pieces."""
        network = self.model.a2c_network
        amp = self.amp
        loss = amp_losses.disc_loss(agent_logits, demo_logits, amp.disc_reward_type)
        logit_loss = amp_losses.disc_logit_regularization(network.get_disc_logit_weights())
        loss = loss + amp.disc_logit_reg * logit_loss
        grad_penalty = amp_losses.disc_gradient_penalty(demo_logits, demo_obs)
        loss = loss + amp.disc_grad_penalty * grad_penalty
        if amp.disc_weight_decay != 0:
            loss = loss + amp.disc_weight_decay * amp_losses.disc_weight_decay(network.get_disc_weights())
        agent_acc, demo_acc = amp_losses.disc_accuracies(agent_logits, demo_logits)
        return {
            "disc_loss": loss,
            "disc_grad_penalty": grad_penalty,
            "disc_logit_loss": logit_loss,
            "disc_agent_acc": agent_acc,
            "disc_demo_acc": demo_acc,
            "disc_agent_logit": agent_logits.mean(),
            "disc_demo_logit": demo_logits.mean(),
        }

    # --- logging and checkpoints ----------------------------------------------------------------------------------

    def _log_train_info(self, train_info: dict[str, Any], frame: int) -> None:
        super()._log_train_info(train_info, frame)
        writer = self.writer
        writer.add_scalar("losses/disc_loss", torch_ext.mean_list(train_info["disc_loss"]).item(), frame)
        for key in _DISC_INFO:
            writer.add_scalar(f"info/{key}", torch_ext.mean_list(train_info[key]).item(), frame)
        if self._last_disc_rewards is not None:
            writer.add_scalar("info/disc_reward_mean", self._last_disc_rewards.mean().item(), frame)
            writer.add_scalar("info/disc_reward_std", self._last_disc_rewards.std().item(), frame)
        seen = self._amp_window_steps if self._amp_window_mask is None else self.amp.amp_warmup_steps
        writer.add_scalar("info/disc_window_steps", seen, frame)
        self._log_convergence_metrics(frame)

    def _log_convergence_metrics(self, frame: int) -> None:
        """Cheap motion-quality signals every ``metrics_interval`` epochs: how far the agent's AMP features are from the
        demonstrations' (Fréchet distance of Gaussians over the newest step's 105 features) and how many of the
        episodes that ended were falls."""
        if self.epoch_num % self.amp.metrics_interval != 0 or self._latest_amp_obs is None:
            return
        from isaacgymenvs.eval.metrics import frechet_distance

        # The newest step's features lead each AMP observation (the task's per-step size, else all of it).
        step_features = getattr(self.vec_env.env, "num_amp_obs_per_step", self._amp_observation_space.shape[0])
        # A private generator: monitoring must not change the training's random stream.
        generator = torch.Generator().manual_seed(self.epoch_num)
        count = min(self.amp.metrics_samples, self._latest_amp_obs.shape[0], len(self._amp_obs_demo_buffer))
        picked = torch.randperm(self._latest_amp_obs.shape[0], generator=generator)[:count]
        agent = self._latest_amp_obs[picked.to(self._latest_amp_obs.device)]
        demo = self._amp_obs_demo_buffer.peek(count, generator)["amp_obs"]
        distance = frechet_distance(agent[:, :step_features].cpu().numpy(), demo[:, :step_features].cpu().numpy())
        self.writer.add_scalar("metrics/frechet_amp", distance, frame)
        if self._episode_ends > 0:
            self.writer.add_scalar("metrics/fall_rate", self._falls / self._episode_ends, frame)
        self._episode_ends, self._falls = 0, 0

    def _progress_details(self, train_info: dict[str, Any]) -> str:
        reward = self._last_disc_rewards.mean().item() if self._last_disc_rewards is not None else float("nan")
        agent = torch_ext.mean_list(train_info["disc_agent_acc"]).item()
        demo = torch_ext.mean_list(train_info["disc_demo_acc"]).item()
        return f" | disc reward {reward:.3f} | disc acc agent {agent:.2f} demo {demo:.2f}"

    def get_stats_weights(self, model_stats: bool = False) -> dict[str, Any]:
        state = super().get_stats_weights(model_stats)
        if self.amp.normalize_amp_input:
            state["amp_input_mean_std"] = self._amp_input_mean_std.state_dict()
        return state

    def set_stats_weights(self, weights: dict[str, Any]) -> None:
        super().set_stats_weights(weights)
        if self.amp.normalize_amp_input and "amp_input_mean_std" in weights:
            self._amp_input_mean_std.load_state_dict(weights["amp_input_mean_std"])

    def get_full_state_weights(self, include_replay: bool = True) -> dict[str, Any]:
        state = super().get_full_state_weights(include_replay)
        replay = self._amp_replay_buffer
        megabytes = len(replay) * math.prod(self._amp_observation_space.shape) * 4 / 2**20
        if include_replay and megabytes <= self.amp.checkpoint_replay_max_mb:
            state["amp_replay_buffer"] = replay.state_dict()
        state["amp_window_open"] = self._amp_window_mask is None
        return state

    def set_full_state_weights(self, weights: dict[str, Any], set_epoch: bool = True) -> None:
        super().set_full_state_weights(weights, set_epoch)
        if weights.get("amp_window_open", False):  # a run resumed after its window opened keeps it open
            self._amp_window_mask = None
        if "amp_replay_buffer" in weights:
            self._amp_replay_buffer.load_state_dict(weights["amp_replay_buffer"])
        else:
            print(
                "note: this checkpoint holds no AMP replay buffer (numbered checkpoints leave it out; *_last.pth and "
                "the final one keep it): the discriminator's replay starts empty",
                flush=True,
            )
