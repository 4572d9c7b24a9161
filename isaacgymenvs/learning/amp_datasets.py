"""``AMPDataset``: PPO minibatches drawn through a random permutation of the batch, reshuffled after every pass.

The original drew each minibatch as a slice of a random permutation of the whole batch (every key, the AMP ones
included, indexed by the same positions) and drew a new permutation after the slice that reached the end.
"""

from __future__ import annotations

import torch
from rl_games.common import datasets


class AMPDataset(datasets.PPODataset):
    """See the module docstring. Arguments as rl_games' ``PPODataset``."""

    def __init__(
        self,
        batch_size: int,
        minibatch_size: int,
        is_discrete: bool,
        is_rnn: bool,
        device: torch.device | str,
        seq_length: int,
    ) -> None:
        super().__init__(batch_size, minibatch_size, is_discrete, is_rnn, device, seq_length)
        if is_rnn:
            raise ValueError("the AMP learner does not support recurrent networks")
        self._shuffled = torch.randperm(self.batch_size, device=self.device)
        self._last_indices: torch.Tensor | None = None

    def update_mu_sigma(self, mu: torch.Tensor, sigma: torch.Tensor) -> None:
        """Write the minibatch's new action means and sigmas back at the positions it came from."""
        self.values_dict["mu"][self._last_indices] = mu
        self.values_dict["sigma"][self._last_indices] = sigma

    def _get_item(self, idx: int) -> dict[str, torch.Tensor]:
        start = idx * self.minibatch_size
        end = start + self.minibatch_size
        indices = self._shuffled[start:end]
        self._last_indices = indices
        if end >= self.batch_size:
            self._shuffled = torch.randperm(self.batch_size, device=self.device)
        return {
            key: value[indices]
            for key, value in self.values_dict.items()
            if key not in self.special_names and value is not None
        }
