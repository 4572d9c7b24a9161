"""Checkpoints and stops of a training run, as a mixin of :class:`~isaacgymenvs.learning.common_agent.CommonAgent`.

When checkpoints are written and which are kept is :class:`~isaacgymenvs.learning.checkpoints.CheckpointPolicy`
(the file layout is in :mod:`isaacgymenvs.learning.checkpoints`). While training, SIGINT (Ctrl-C) and SIGTERM ask for
a stop: a signal during a rollout drops that epoch, one during an update lets it finish; then ``<name>_last.pth`` is
written and :class:`TrainingInterrupted` ends the run (the launcher turns it into one line with the resume command).
Multi-process runs agree on the stop at epoch ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from isaacgymenvs.learning.checkpoints import (
    LAST_SUFFIX,
    atomic_torch_save,
    check_checkpoint_fits,
    checkpoints_to_delete,
    load_checkpoint,
    numbered_checkpoints,
)


class TrainingInterrupted(Exception):  # noqa: N818 -- a stop the user asked for, not an error
    """Training stopped by SIGINT or SIGTERM after saving ``checkpoint`` (None when nothing had been trained yet)."""

    def __init__(self, signal_number: int, epoch: int, checkpoint: str | None) -> None:
        super().__init__(f"stopped by {signal.Signals(signal_number).name} at epoch {epoch}")
        self.signal_number = signal_number
        self.epoch = epoch
        self.checkpoint = checkpoint


class RolloutAborted(Exception):  # noqa: N818 -- control flow inside the loop
    """A stop was asked for during a rollout: the epoch is dropped (the state is the previous epoch's)."""


class CheckpointingMixin:
    """Saving, restoring and stopping for an rl_games agent (uses its ``nn_dir``, ``config``, ``epoch_num``,
    ``frame``, ``optimizer``, ``global_rank``, ``multi_gpu``); set ``_checkpoint_policy`` and ``_last_save_time``."""

    def _checkpoint_base(self) -> str:
        """Path of the run's checkpoints without suffix (``runs/<experiment>/nn/<name>``)."""
        return os.path.join(self.nn_dir, self.config["name"])

    def _save_periodically(self, epoch_num: int, finishing: bool) -> None:
        """Numbered checkpoints every ``save_frequency`` epochs (then the retention rule), and ``_last`` with them or
        after ``save_interval_minutes`` of wall time (not when ``finishing``: the final checkpoint follows)."""
        policy = self._checkpoint_policy
        numbered = policy.save_frequency > 0 and epoch_num % policy.save_frequency == 0
        if numbered:
            self.save(f"{self._checkpoint_base()}_{epoch_num}", include_replay=False)
            self._apply_retention()
        overdue = policy.save_interval_minutes > 0 and (
            time.monotonic() - self._last_save_time >= 60.0 * policy.save_interval_minutes
        )
        if not finishing and (numbered or overdue):
            self._save_last()

    def _save_last(self) -> str | None:
        """Write the full state to ``<name>_last.pth`` (rank 0); its path."""
        if self.global_rank != 0:
            return None
        path = self._checkpoint_base() + LAST_SUFFIX
        self.save(path)
        self._last_save_time = time.monotonic()
        return path + ".pth"

    def _apply_retention(self) -> None:
        policy = self._checkpoint_policy
        numbered = numbered_checkpoints(self.nn_dir, self.config["name"])
        for epoch in checkpoints_to_delete(numbered, policy.keep_checkpoints, policy.keep_checkpoints_every):
            numbered[epoch].unlink(missing_ok=True)

    @contextlib.contextmanager
    def _stop_signals(self) -> Iterator[None]:
        """While training, SIGINT (Ctrl-C) and SIGTERM ask for a stop at the next safe point (a checkpoint is written
        first); a second Ctrl-C stops at once without saving."""
        self._stop_signal = None
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(number: int, _frame: Any) -> None:
            if self._stop_signal is not None and number == signal.SIGINT:
                raise KeyboardInterrupt
            self._stop_signal = number
            if self.global_rank == 0:
                print(
                    f"{signal.Signals(number).name}: saving a checkpoint and stopping"
                    + (" (Ctrl-C again stops at once, without saving)" if number == signal.SIGINT else ""),
                    flush=True,
                )

        previous = {number: signal.signal(number, request_stop) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _stop_requested(self) -> bool:
        """Whether any rank was asked to stop (every rank learns it at the same epoch)."""
        asked = self._stop_signal is not None
        if self.multi_gpu:
            flag = torch.tensor([float(asked)], device=self.ppo_device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            asked = bool(flag.item())
            if asked and self._stop_signal is None:
                self._stop_signal = signal.SIGTERM  # another rank was signalled
        return asked

    def _stop(self, checkpoint: str | None) -> None:
        """End training for the signal received; ``checkpoint`` is what was saved (None: no epoch finished here)."""
        assert self._stop_signal is not None
        raise TrainingInterrupted(self._stop_signal, self.epoch_num, checkpoint)

    def _remove_superseded_last(self) -> None:
        """The final checkpoint supersedes ``<name>_last.pth``."""
        Path(self._checkpoint_base() + LAST_SUFFIX + ".pth").unlink(missing_ok=True)

    def get_full_state_weights(self, include_replay: bool = True) -> dict[str, Any]:
        """The checkpoint's contents; ``include_replay=False`` leaves out large replay data (numbered checkpoints)."""
        state = super().get_full_state_weights()
        state["env_state"] = None
        return state

    def save(self, filename: str, include_replay: bool = True) -> None:
        """Write ``filename.pth`` atomically."""
        atomic_torch_save(self.get_full_state_weights(include_replay=include_replay), filename + ".pth")
        print(f"saved checkpoint {filename}.pth", flush=True)

    def restore(self, filename: str, set_epoch: bool = True) -> None:
        state = load_checkpoint(filename)
        check_checkpoint_fits(state, self.model, filename)
        self.set_full_state_weights(state, set_epoch=set_epoch)
        print(f"restored {filename}: epoch {self.epoch_num}, frame {self.frame}", flush=True)

    def set_full_state_weights(self, weights: dict[str, Any], set_epoch: bool = True) -> None:
        self.set_weights(weights)
        if set_epoch:
            self.epoch_num = weights["epoch"]
            self.frame = weights["frame"]
        # A saved optimiser's groups carry the fused choice of the run that wrote them (None before fused Adam):
        # this run's choice is kept, and set before loading so that torch places the step counts to suit it.
        saved = weights["optimizer"]
        fused = self.optimizer.param_groups[0].get("fused")
        groups = [{**group, "fused": fused} for group in saved["param_groups"]]
        self.optimizer.load_state_dict({**saved, "param_groups": groups})
        self.last_mean_rewards = weights.get("last_mean_rewards", -100500)
