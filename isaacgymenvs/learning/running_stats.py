"""Running input statistics for the AMP observations: rl_games' ``RunningMeanStd`` with a faster batch variance.

The agent updates the AMP normaliser with three batches per minibatch (the agent's, the replay's and the
demonstrations' ``amp_minibatch_size`` rows of 525 features on the CPU default). torch takes the variance over the
first dimension of such a ``[512, 525]`` batch several times slower on a CPU than the same population variance written
as two passes (the mean, then the mean of the squared deviations): with it the normalisation's share of an epoch of
the CPU default fell from 3.3-3.7 % to 1.8 % (``bench train --profile``, ``docs/benchmarks.md``). The two agree to
float rounding; the update of the running moments, the normalisation and the clipping are rl_games' own.
"""

from __future__ import annotations

import torch
from rl_games.algos_torch.running_mean_std import RunningMeanStd


class TwoPassRunningMeanStd(RunningMeanStd):
    """``RunningMeanStd`` (one statistic per feature of ``[N, F]`` inputs) whose training-mode update takes the
    batch's variance in two passes. Masked and per-channel inputs keep rl_games' path unchanged."""

    def forward(self, input: torch.Tensor, denorm: bool = False, mask: torch.Tensor | None = None) -> torch.Tensor:
        if not self.training or mask is not None or self.per_channel or input.dim() != 2:
            return super().forward(input, denorm, mask)
        mean = input.mean(0)
        var = (input - mean).square().mean(0)
        self.running_mean, self.running_var, self.count = self._update_mean_var_count_from_moments(
            self.running_mean, self.running_var, self.count, mean, var, input.size(0)
        )
        # The statistics are updated: normalise as rl_games does in evaluation mode (no second update).
        self.training = False
        try:
            return super().forward(input, denorm)
        finally:
            self.training = True
