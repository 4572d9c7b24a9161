"""``CommonAgent``: PPO on rl_games' ``A2CAgent`` with the original AMP plugin's own loop.

What differs from rl_games' loop (spec section 8), all kept from the original:

* the rollout resets finished environments through ``reset_done()`` at the start of each step and stores the value of
  the state each action led to (``next_values``), zeroed for terminations but not for time-outs, so GAE bootstraps
  time-outs and not falls (the values are computed after the rollout: :mod:`isaacgymenvs.learning.rollout_passes`);
* the observation normaliser keeps updating in every mini-epoch; the bounds loss has a soft bound of 1.0 and the
  critic loss no 1/2 factor;
* no "best" checkpoints (the reward is the episode length).

Beyond the original: checkpoints, their retention and Ctrl-C/SIGTERM stops (:mod:`isaacgymenvs.learning.run_control`;
files written atomically, restoring checks that the checkpoint fits the task, the epoch and frame counters resume),
progress lines (:mod:`isaacgymenvs.learning.training_log`), and multi-process training
(:mod:`isaacgymenvs.learning.distributed`).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from typing import Any

import torch
import torch.distributed as dist
import yaml
from rl_games.algos_torch import a2c_continuous, torch_ext
from rl_games.common import a2c_common
from torch.torch_version import TorchVersion

from isaacgymenvs.learning import amp_losses
from isaacgymenvs.learning.amp_datasets import AMPDataset
from isaacgymenvs.learning.checkpoints import CheckpointPolicy
from isaacgymenvs.learning.distributed import RankSharedState, init_base_for_rank
from isaacgymenvs.learning.precision import resolve_mixed_precision
from isaacgymenvs.learning.rollout_passes import RolloutPasses
from isaacgymenvs.learning.run_control import CheckpointingMixin, RolloutAborted
from isaacgymenvs.learning.thread_tuner import ThreadTuner
from isaacgymenvs.learning.training_log import TrainingLogMixin
from isaacgymenvs.utils.files import atomic_write


def fused_adam_available(device: torch.device | str) -> bool:
    """Whether torch has a fused Adam for ``device``: CUDA, and CPUs from torch 2.4. Fused Adam runs one kernel for
    every parameter (with the gradient clipping, 1.3 ms a step of the CPU default against 3.2-3.7 for the loop:
    ``docs/benchmarks.md``) and equals the loop to float rounding."""
    kind = torch.device(device).type
    return kind == "cuda" or (kind == "cpu" and TorchVersion(torch.__version__) >= "2.4")


class CommonAgent(CheckpointingMixin, TrainingLogMixin, RankSharedState, RolloutPasses, a2c_continuous.A2CAgent):
    """PPO with the original plugin's rollout, GAE, losses, logging and checkpoints (see the module docstring)."""

    def __init__(self, base_name: str, params: dict[str, Any]) -> None:
        config = params["config"]
        self._distributed = bool(config.get("multi_gpu", False))
        # rl_games' base reads mixed_precision as CUDA-only autocast with a loss scaler (and warns on CPUs); ours is
        # bfloat16 on either device, which needs no loss scaling (isaacgymenvs.learning.precision).
        mixed_precision = config.get("mixed_precision", False)
        config["mixed_precision"] = False
        try:
            if self._distributed:
                init_base_for_rank(self, base_name, params)
            else:
                a2c_common.A2CBase.__init__(self, base_name, params)
        finally:
            config["mixed_precision"] = mixed_precision
        self._load_config_params(config)
        self.mixed_precision = resolve_mixed_precision(mixed_precision, self.ppo_device)
        self.is_discrete = False
        action_space = self.env_info["action_space"]
        self.actions_num = action_space.shape[0]
        self.bounds_loss_coef = config.get("bounds_loss_coef", None)
        self.clip_actions = config.get("clip_actions", True)
        self.actions_low = torch.from_numpy(action_space.low.copy()).float().to(self.ppo_device)
        self.actions_high = torch.from_numpy(action_space.high.copy()).float().to(self.ppo_device)
        self.model = self.network.build(self._build_net_config())
        self.model.to(self.ppo_device)
        self.states = None
        self.init_rnn_from_model(self.model)
        self.last_lr = float(self.last_lr)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(),
            self.last_lr,
            eps=1e-08,
            weight_decay=self.weight_decay,
            fused=fused_adam_available(self.ppo_device) or None,
        )
        if self.normalize_value:
            self.value_mean_std = self.model.value_mean_std
        self._init_rollout_passes()
        self.dataset = AMPDataset(
            self.batch_size, self.minibatch_size, self.is_discrete, self.is_rnn, self.ppo_device, self.seq_length
        )
        self._last_progress = time.perf_counter()
        self._phases_reported: set[str] = set()
        self._checkpoint_policy = CheckpointPolicy.from_config(config)
        # torch's thread count measured while training (the launcher asks for it when no count was given).
        self._thread_tuner = ThreadTuner(torch.get_num_threads()) if config.get("tune_torch_threads") else None
        self._stop_signal: int | None = None
        self.algo_observer.after_init(self)
        self._write_resolved_config(config.get("resolved_config"))

    def _write_resolved_config(self, resolved: dict[str, Any] | None) -> None:
        """Save the launcher's resolved config as ``config.yaml`` beside the checkpoints and summaries (rank 0)."""
        if resolved is None or self.global_rank != 0:
            return
        with atomic_write(os.path.join(self.experiment_dir, "config.yaml"), "w") as handle:
            yaml.safe_dump(resolved, handle, sort_keys=False)

    def _load_config_params(self, config: dict[str, Any]) -> None:
        self.last_lr = config["learning_rate"]

    def _build_net_config(self) -> dict[str, Any]:
        return {
            "actions_num": self.actions_num,
            "input_shape": self.obs_shape,
            "num_seqs": self.num_actors * self.num_agents,
            "value_size": self.env_info.get("value_size", 1),
            "normalize_value": self.normalize_value,
            "normalize_input": self.normalize_input,
        }

    def init_tensors(self) -> None:
        super().init_tensors()
        buffer = self.experience_buffer
        buffer.tensor_dict["next_obses"] = torch.zeros_like(buffer.tensor_dict["obses"])
        buffer.tensor_dict["next_values"] = torch.zeros_like(buffer.tensor_dict["values"])
        buffer.tensor_dict["terminated"] = torch.zeros_like(buffer.tensor_dict["values"])
        self.tensor_list += ["next_obses"]

    # --- the loop -------------------------------------------------------------------------------------------------

    def train(self) -> tuple[float, int]:
        self.init_tensors()
        self.last_mean_rewards = -100500
        total_time = 0.0
        self.obs = self.env_reset()
        self.curr_frames = self.batch_size_envs
        if self.multi_gpu:
            self._broadcast_initial_weights()
        with self._stop_signals():
            self._init_train()
            self._last_save_time = time.monotonic()
            first_epoch = self.epoch_num + 1
            while True:
                if self._stop_requested():
                    self._stop(None)
                epoch_num = self.update_epoch()
                if self._thread_tuner is not None:
                    self._thread_tuner.before_epoch(epoch_num - first_epoch + 1)
                try:
                    train_info = self.train_epoch()
                except RolloutAborted:
                    self.epoch_num = epoch_num - 1  # the epoch never happened
                    self._stop(self._save_last() if epoch_num > first_epoch else None)
                self._tune_threads(epoch_num - first_epoch + 1, train_info["total_time"])
                total_time += train_info["total_time"]
                frame = self.frame
                frames = self.curr_frames * (self.world_size if self.multi_gpu else 1)
                self.frame += frames
                if self.global_rank == 0:
                    self._log_train_info(train_info, frame)
                    self._log_episodes(frame, epoch_num, total_time)
                    self._print_progress(epoch_num, frames, train_info)
                    self.algo_observer.after_print_stats(frame, epoch_num, total_time)
                # Every rank counts the same epochs and frames, so every rank stops at the same one.
                finished = (self.max_epochs != -1 and epoch_num >= self.max_epochs) or (
                    self.max_frames != -1 and self.frame >= self.max_frames
                )
                if self.global_rank == 0:
                    self._save_periodically(epoch_num, finishing=finished)
                if finished:
                    self._finish(epoch_num, total_time)
                    return self.last_mean_rewards, epoch_num
                if self._stop_requested():
                    self._stop(self._save_last())

    def _tune_threads(self, epoch: int, seconds: float) -> None:
        if self._thread_tuner is None:
            return
        note = self._thread_tuner.after_epoch(epoch, seconds / max(1, self.curr_frames))
        if note and self.global_rank == 0:
            print(f"note: {note}", flush=True)

    def _finish(self, epoch_num: int, total_time: float) -> None:
        """The normal end: the final checkpoint, which supersedes ``_last``."""
        if self.global_rank == 0:
            final = self._checkpoint_base()
            self.save(final)
            self._remove_superseded_last()
            print(f"finished: {epoch_num} epochs, {self.frame} frames, {total_time:.0f} s; checkpoint {final}.pth")
        if self.multi_gpu:  # every rank reports, so that agreement can be checked from the outside
            print(f"rank {self.global_rank}/{self.world_size}: state digest {self.state_digest()}", flush=True)

    def _init_train(self) -> None:
        """Hook run once before the first epoch."""

    def train_epoch(self) -> dict[str, Any]:
        self.set_eval()
        play_start = time.perf_counter()
        with torch.no_grad():
            batch_dict = self.play_steps()
        play_time = time.perf_counter() - play_start
        update_start = time.perf_counter()
        self._before_update(batch_dict)
        self.set_train()
        self.curr_frames = batch_dict.pop("played_frames")
        self.prepare_dataset(batch_dict)
        self.algo_observer.after_steps()
        train_info: dict[str, list[torch.Tensor]] = defaultdict(list)
        for _ in range(self.mini_epochs_num):
            epoch_kls = []
            for index in range(len(self.dataset)):
                result = self.train_actor_critic(self.dataset[index])
                for key, value in result.items():
                    if key not in ("mu", "sigma"):
                        train_info[key].append(value)
                self.dataset.update_mu_sigma(result["mu"], result["sigma"])
                epoch_kls.append(result["kl"])
                self._maybe_print_progress("updating")
            kl = torch_ext.mean_list(epoch_kls)
            if self.multi_gpu:
                dist.all_reduce(kl)
                kl /= self.world_size
            self.last_lr, self.entropy_coef = self.scheduler.update(
                self.last_lr, self.entropy_coef, self.epoch_num, 0, kl.item()
            )
            self.update_lr(self.last_lr)
        self._after_update(batch_dict)
        if self.multi_gpu:
            self._synchronize_statistics()
        update_time = time.perf_counter() - update_start
        return {
            **train_info,
            "play_time": play_time,
            "update_time": update_time,
            "total_time": play_time + update_time,
            "step_time": batch_dict["step_time"],
        }

    def _before_update(self, batch_dict: dict[str, Any]) -> None:
        """Hook between the rollout and the update."""

    def _after_update(self, batch_dict: dict[str, Any]) -> None:
        """Hook after the update."""

    def play_steps(self) -> dict[str, Any]:
        """One rollout of ``horizon_length`` steps (spec section 8.2)."""
        step_time = 0.0
        buffer = self.experience_buffer
        for n in range(self.horizon_length):
            self.obs, _ = self._env_reset_done()
            buffer.update_data("obses", n, self.obs["obs"])
            res_dict = self._rollout_policy(self.obs)
            for key in self.update_list:
                if key != "values" or not self._values_after_rollout:
                    buffer.update_data(key, n, res_dict[key])
            step_start = time.perf_counter()
            self.obs, rewards, self.dones, infos = self.env_step(res_dict["actions"])
            step_time += time.perf_counter() - step_start
            buffer.update_data("rewards", n, self.rewards_shaper(rewards))
            buffer.update_data("next_obses", n, self.obs["obs"])
            buffer.update_data("dones", n, self.dones)
            self._record_step(n, infos)
            buffer.update_data("terminated", n, infos["terminate"].float().to(self.ppo_device).unsqueeze(-1))
            self._update_episode_stats(rewards, infos)
            self._maybe_print_progress("collecting experience")
            if self._stop_signal is not None and not self.multi_gpu:  # ranks must agree: they stop at epoch ends
                raise RolloutAborted
        self._eval_rollout_values()
        batch_dict = self._finish_rollout()
        batch_dict["step_time"] = step_time
        return batch_dict

    def _record_step(self, step: int, infos: dict[str, Any]) -> None:
        """Hook: store extra per-step data from the environment's infos."""

    def _rollout_rewards(self, rewards: torch.Tensor) -> dict[str, torch.Tensor]:
        """Hook: the rewards ``[T, N, 1]`` to optimise (the AMP agent adds the discriminator's) and extra batch keys."""
        return {"rewards": rewards}

    def _finish_rollout(self) -> dict[str, Any]:
        buffer = self.experience_buffer.tensor_dict
        rewards = self._rollout_rewards(buffer["rewards"])
        advantages = amp_losses.compute_gae(
            rewards.pop("rewards"), buffer["values"], buffer["next_values"], buffer["dones"], self.gamma, self.tau
        )
        returns = advantages + buffer["values"]
        batch_dict = self.experience_buffer.get_transformed_list(a2c_common.swap_and_flatten01, self.tensor_list)
        batch_dict["returns"] = a2c_common.swap_and_flatten01(returns)
        batch_dict["played_frames"] = self.batch_size
        for key, value in rewards.items():
            batch_dict[key] = a2c_common.swap_and_flatten01(value)
        return batch_dict

    def _update_episode_stats(self, rewards: torch.Tensor, infos: dict[str, Any]) -> None:
        self.current_rewards += rewards
        self.current_lengths += 1
        done_indices = self.dones.nonzero(as_tuple=False)[:: self.num_agents]
        self.game_rewards.update(self.current_rewards[done_indices])
        self.game_lengths.update(self.current_lengths[done_indices])
        self.algo_observer.process_infos(infos, done_indices)
        not_dones = 1.0 - self.dones.float()
        self.current_rewards = self.current_rewards * not_dones.unsqueeze(1)
        self.current_lengths = self.current_lengths * not_dones

    def _env_reset_done(self) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        obs, done_env_ids = self.vec_env.reset_done()
        return self.obs_to_tensors(obs), done_env_ids

    # --- the update -----------------------------------------------------------------------------------------------

    def train_actor_critic(self, input_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.set_train()
        self.calc_gradients(input_dict)
        for param_group in self.optimizer.param_groups:
            param_group["lr"] = self.last_lr
        return self.train_result

    def _ppo_losses(
        self, input_dict: dict[str, torch.Tensor], res_dict: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """PPO's part of the loss (scalar) and its logged pieces."""
        actor_loss, clip_frac = amp_losses.ppo_actor_loss(
            input_dict["old_logp_actions"], res_dict["prev_neglogp"], input_dict["advantages"], self.e_clip
        )
        actor_loss = actor_loss.mean()
        critic_loss = amp_losses.critic_loss(res_dict["values"], input_dict["returns"]).mean()
        bounds = (
            amp_losses.bound_loss(res_dict["mus"]).mean()
            if self.bounds_loss_coef is not None
            else torch.zeros((), device=self.ppo_device)
        )
        entropy = res_dict["entropy"].mean()
        loss = actor_loss + self.critic_coef * critic_loss - self.entropy_coef * entropy
        if self.bounds_loss_coef is not None:
            loss = loss + self.bounds_loss_coef * bounds
        return loss, {
            "actor_loss": actor_loss,
            "critic_loss": critic_loss,
            "bounds_loss": bounds,
            "entropy": entropy,
            "actor_clip_frac": clip_frac,
        }

    def _step_optimizer(self, loss: torch.Tensor) -> None:
        for param in self.model.parameters():
            param.grad = None
        loss.backward()
        # rl_games' step: all-reduces gradients across ranks, clips them if asked, steps the optimiser.
        self.trancate_gradients_and_step()

    def calc_gradients(self, input_dict: dict[str, torch.Tensor]) -> None:
        batch_dict = {
            "is_train": True,
            "prev_actions": input_dict["actions"],
            "obs": self._preproc_obs(input_dict["obs"]),
        }
        with self._networks_autocast():
            res_dict = self.model(batch_dict)
        loss, info = self._ppo_losses(input_dict, res_dict)
        self._step_optimizer(loss)
        self.train_result = {**info, **self._kl_info(input_dict, res_dict)}

    def _kl_info(
        self, input_dict: dict[str, torch.Tensor], res_dict: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            kl = torch_ext.policy_kl(
                res_dict["mus"].detach(), res_dict["sigmas"].detach(), input_dict["mu"], input_dict["sigma"], True
            )
        return {
            "kl": kl,
            "last_lr": torch.tensor(self.last_lr),
            "lr_mul": torch.tensor(1.0),
            "mu": res_dict["mus"].detach(),
            "sigma": res_dict["sigmas"].detach(),
        }
