"""The observer that logs a task's scalar statistics, apart from the rest of the rl_games glue
(:mod:`isaacgymenvs.utils.rlgames_utils`): importing it loads rl_games' observer base only, not its environment
registry (which imports its test environments and networks, seconds on a small machine), so that the benchmarks that
subclass it refuse a bad command line quickly.
"""

from __future__ import annotations

from typing import Any

import torch
from rl_games.common.algo_observer import AlgoObserver


class RLGPUAlgoObserver(AlgoObserver):
    """Logs the scalar statistics a task reports in ``extras`` (e.g. ``unstable_envs_total``) under ``env/``."""

    def __init__(self) -> None:
        self.algo = None
        self.latest: dict[str, float] = {}

    def after_init(self, algo: Any) -> None:
        self.algo = algo

    def process_infos(self, infos: dict[str, Any], done_indices: torch.Tensor) -> None:
        if not isinstance(infos, dict):
            return
        for key, value in infos.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.latest[key] = float(value)
            elif isinstance(value, torch.Tensor) and value.numel() == 1:
                self.latest[key] = float(value.item())

    def after_print_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
        writer = getattr(self.algo, "writer", None)
        if writer is None:
            return
        for key, value in self.latest.items():
            writer.add_scalar(f"env/{key}", value, frame)
