"""The time-to-skill benchmark's evaluation during training: a task of its own scored by :mod:`isaacgymenvs.eval`,
the agent's deterministic policy, and the observer that evaluates it between epochs and ends training on the budget
(``python -m isaacgymenvs.bench skill``, :mod:`isaacgymenvs.bench.skill`).

What an evaluation must not do is change training: it draws from private random streams (training's are saved and
restored around it), puts the model in eval mode (its observation normaliser then does not update) and back, and its
time is not in the training minutes, which are the sum of the epochs' times as the agent counts them.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isaacgymenvs.bench.skill_report import COLUMNS, Trained, append_row, format_progress, imitates, stands
from isaacgymenvs.eval.evaluate import Policy, clip_gait, reference_set, rollout, summarize
from isaacgymenvs.utils.rlgames_observer import RLGPUAlgoObserver

TENSORBOARD_KEYS = (
    "fall_rate",
    "mean_episode_length",
    "forward_speed_mps",
    "stride_length_m",
    "key_body_error_m",
    "classifier_accuracy",
    "stands",
    "imitates",
    "eval_seconds",
)
EVAL_SEED = 0  # every evaluation (of every run) starts its episodes from the same states: comparable figures


@contextlib.contextmanager
def preserved_random_state(device: str) -> Iterator[None]:
    """Run the body in private random streams: Python's, NumPy's and torch's (CPU, and ``device`` when it is a CUDA
    device) states are restored afterwards, so that what the body draws does not shift training's draws."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = [torch.device(device)] if torch.device(device).type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


class PolicyEvaluation:
    """A task of its own and the reference it is scored against, built once; called with a policy, it returns the
    metrics of :func:`isaacgymenvs.eval.evaluate.summarize` for ``episodes`` episodes and the clip's gait."""

    def __init__(
        self, task_config: dict[str, Any], rl_device: str, sim_device: str, envs: int, episodes: int, seed: int
    ) -> None:
        from isaacgymenvs.tasks import isaacgym_task_map

        config = copy.deepcopy(task_config)
        config["env"]["numEnvs"] = min(envs, episodes)
        self.episodes, self.seed, self.device = episodes, seed, rl_device
        with preserved_random_state(rl_device):
            torch.manual_seed(seed)
            self.task = isaacgym_task_map[config["name"]](cfg=config, rl_device=rl_device, sim_device=sim_device)
            self.references, self.reference_features = reference_set(self.task, episodes, seed)
            self.clip = clip_gait(self.task)

    def __call__(self, policy: Policy) -> dict[str, float]:
        threads = torch.get_num_threads()
        # One torch thread: the evaluation's tensors are small (32 environments, a 64-unit classifier), and a second
        # thread made it slower, not faster, on 2 shared cores (0.4 s against 2.6 s for one classifier fit).
        torch.set_num_threads(1)
        try:
            with preserved_random_state(self.device):
                torch.manual_seed(self.seed)
                episodes = rollout(self.task, policy, self.episodes, whole_rounds=True)
                return summarize(self.task, episodes, self.references, self.reference_features, self.seed)
        finally:
            torch.set_num_threads(threads)


def deterministic_policy(agent: Any) -> Policy:
    """The agent's current policy, deterministic: the mean action of its model (which normalises observations with
    its own running statistics), clipped and rescaled as the agent does before stepping the task. Call it with the
    model in eval mode (the normaliser then does not update)."""
    from rl_games.common.a2c_common import rescale_actions

    def act(obs: torch.Tensor) -> torch.Tensor:
        inputs = {"is_train": False, "prev_actions": None, "obs": agent._preproc_obs(obs), "rnn_states": None}
        with torch.no_grad():
            mean = agent.model(inputs)["mus"]
        if agent.clip_actions:
            return rescale_actions(agent.actions_low, agent.actions_high, mean.clamp(-1.0, 1.0))
        return mean

    return act


class SkillObserver(RLGPUAlgoObserver):
    """Evaluates the agent's policy every ``eval_every`` epochs and after the last one, writes each evaluation to the
    CSV, the progress line and TensorBoard, and ends training once ``minutes`` of training or ``samples`` are
    reached, or at the first evaluation that meets ``until`` (``"stands"`` or ``"imitates"``), by making the current
    epoch the agent's last, so that it saves its final checkpoint as usual."""

    def __init__(
        self,
        evaluation: PolicyEvaluation,
        eval_every: int,
        csv_path: Path,
        minutes: float | None = None,
        samples: int | None = None,
        until: str | None = None,
    ) -> None:
        super().__init__()
        if until not in (None, "stands", "imitates"):
            raise ValueError(f"until must be 'stands' or 'imitates', got {until!r}")
        self.evaluation, self.eval_every, self.csv_path = evaluation, eval_every, csv_path
        self.minutes, self.samples, self.until = minutes, samples, until
        self.met_until = False  # training ended early because an evaluation met ``until``
        self.rows: list[dict[str, float]] = []
        self.trained = Trained(0, 0, 0.0)
        self._start = time.perf_counter()

    def after_print_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
        super().after_print_stats(frame, epoch_num, total_time)
        agent = self.algo
        self.trained = Trained(epoch_num, agent.frame, total_time)
        budget_spent = (self.minutes is not None and total_time >= 60.0 * self.minutes) or (
            self.samples is not None and agent.frame >= self.samples
        )
        last = budget_spent or (agent.max_epochs != -1 and epoch_num >= agent.max_epochs)
        last = last or (agent.max_frames != -1 and agent.frame >= agent.max_frames)
        if budget_spent:
            agent.max_epochs = epoch_num  # the loop's own check then ends training after this epoch
        if epoch_num % self.eval_every == 0 or last:
            row = self._evaluate(epoch_num, agent.frame, total_time)
            if self.until is not None and row[self.until] and not budget_spent:
                agent.max_epochs = epoch_num  # met: this epoch is the last, as for a spent budget
                self.met_until = True

    def _evaluate(self, epoch: int, samples: int, training_seconds: float) -> dict[str, float]:
        start = time.perf_counter()
        model = self.algo.model
        was_training = model.training
        model.eval()
        try:
            metrics = self.evaluation(deterministic_policy(self.algo))
        finally:
            model.train(was_training)
        row = {
            "epoch": epoch,
            "samples": samples,
            "train_minutes": training_seconds / 60.0,
            "wall_minutes": (time.perf_counter() - self._start) / 60.0,
            "eval_seconds": time.perf_counter() - start,
            **metrics,
            "clip_forward_speed_mps": self.evaluation.clip["forward_speed_mps"],
            "clip_stride_length_m": self.evaluation.clip["stride_length_m"],
        }
        row = {column: row[column] for column in COLUMNS if column in row}
        row["stands"], row["imitates"] = int(stands(row)), int(imitates(row))
        self.rows.append(row)
        append_row(self.csv_path, row)
        print(format_progress(row), flush=True)
        writer = getattr(self.algo, "writer", None)
        for key in TENSORBOARD_KEYS if writer is not None else ():
            if math.isfinite(row[key]):  # no stride before a complete swing
                writer.add_scalar(f"skill/{key}", row[key], samples)
        return row
