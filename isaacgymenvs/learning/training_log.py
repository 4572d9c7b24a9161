"""Progress lines and TensorBoard scalars of a training run, as a mixin of
:class:`~isaacgymenvs.learning.common_agent.CommonAgent`: one line per epoch (the benchmarks parse it:
:data:`isaacgymenvs.bench.runs.LAUNCHER_PROGRESS`) and, inside a long epoch, one heartbeat per phase."""

from __future__ import annotations

import time
from typing import Any

from rl_games.algos_torch import torch_ext

# Longest quiet spell (s) before a progress line is printed from inside an epoch.
PROGRESS_INTERVAL = 10.0


class TrainingLogMixin:
    """Logging for an rl_games agent (uses its ``writer``, ``game_rewards``, ``game_lengths``, ``print_stats``, ...)."""

    def _log_train_info(self, train_info: dict[str, Any], frame: int) -> None:
        writer = self.writer
        frames = self.curr_frames
        writer.add_scalar("performance/total_fps", frames / train_info["total_time"], frame)
        writer.add_scalar("performance/step_fps", frames / max(train_info["step_time"], 1e-9), frame)
        writer.add_scalar("performance/update_time", train_info["update_time"], frame)
        writer.add_scalar("performance/play_time", train_info["play_time"], frame)
        writer.add_scalar("losses/a_loss", torch_ext.mean_list(train_info["actor_loss"]).item(), frame)
        writer.add_scalar("losses/c_loss", torch_ext.mean_list(train_info["critic_loss"]).item(), frame)
        writer.add_scalar("losses/bounds_loss", torch_ext.mean_list(train_info["bounds_loss"]).item(), frame)
        writer.add_scalar("losses/entropy", torch_ext.mean_list(train_info["entropy"]).item(), frame)
        writer.add_scalar("info/last_lr", self.last_lr, frame)
        writer.add_scalar("info/lr_mul", 1.0, frame)
        writer.add_scalar("info/e_clip", self.e_clip, frame)
        writer.add_scalar("info/clip_frac", torch_ext.mean_list(train_info["actor_clip_frac"]).item(), frame)
        writer.add_scalar("info/kl", torch_ext.mean_list(train_info["kl"]).item(), frame)
        writer.add_scalar("info/epochs", self.epoch_num, frame)

    def _log_episodes(self, frame: int, epoch_num: int, total_time: float) -> None:
        if self.game_rewards.current_size == 0:
            return
        mean_rewards = self.game_rewards.get_mean()
        mean_lengths = self.game_lengths.get_mean()
        self.mean_rewards = mean_rewards[0]
        self.writer.add_scalar("rewards/frame", mean_rewards[0], frame)
        self.writer.add_scalar("rewards/iter", mean_rewards[0], epoch_num)
        self.writer.add_scalar("rewards/time", mean_rewards[0], total_time)
        self.writer.add_scalar("episode_lengths/frame", mean_lengths, frame)
        self.writer.add_scalar("episode_lengths/iter", mean_lengths, epoch_num)

    def _progress_details(self, train_info: dict[str, Any]) -> str:
        """Hook: extra fields for the progress line."""
        return ""

    def _print_progress(self, epoch_num: int, frames: int, train_info: dict[str, Any]) -> None:
        if not self.print_stats:
            return
        episodes = (
            f" | episode length {self.game_lengths.get_mean().item():.1f}" if self.game_lengths.current_size > 0 else ""
        )
        limit = f"/{self.max_epochs}" if self.max_epochs != -1 else ""
        print(
            f"epoch {epoch_num}{limit} | frames {self.frame} | {frames / train_info['total_time']:.0f} samples/s "
            f"(env {frames / max(train_info['step_time'], 1e-9):.0f}/s){episodes}"
            f"{self._progress_details(train_info)}",
            flush=True,
        )
        self._last_progress = time.perf_counter()
        self._phases_reported = set()

    def _maybe_print_progress(self, phase: str) -> None:
        """A heartbeat inside a long epoch: each phase at most once per epoch, after a quiet spell."""
        if (
            self.print_stats
            and phase not in self._phases_reported
            and time.perf_counter() - self._last_progress > PROGRESS_INTERVAL
        ):
            print(f"epoch {self.epoch_num}: {phase} ...", flush=True)
            self._phases_reported.add(phase)
            self._last_progress = time.perf_counter()
