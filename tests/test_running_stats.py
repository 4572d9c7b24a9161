"""The AMP normaliser's two-pass batch variance (``TwoPassRunningMeanStd``) against rl_games' ``RunningMeanStd``:
the same running moments and outputs to float rounding over several updates, the same state dict, and rl_games' own
path where it does not apply (evaluation mode, masks)."""

from __future__ import annotations

import torch
from rl_games.algos_torch.running_mean_std import RunningMeanStd

from isaacgymenvs.learning.running_stats import TwoPassRunningMeanStd


def _pair(features: int = 525) -> tuple[RunningMeanStd, TwoPassRunningMeanStd]:
    return RunningMeanStd((features,)), TwoPassRunningMeanStd((features,))


def test_updates_and_outputs_agree_with_rl_games() -> None:
    generator = torch.Generator().manual_seed(0)
    reference, two_pass = _pair()
    for step in range(6):  # batches of shifting mean and scale, as the agent's, replay's and demonstrations' differ
        batch = torch.randn(512, 525, generator=generator) * (1 + step) + step
        expected, got = reference(batch), two_pass(batch)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    for name in ("running_mean", "running_var", "count"):
        torch.testing.assert_close(getattr(two_pass, name), getattr(reference, name), rtol=1e-6, atol=1e-7)
    assert two_pass.training  # left in training mode
    assert two_pass.state_dict().keys() == reference.state_dict().keys()


def test_evaluation_mode_and_masks_take_rl_games_path() -> None:
    reference, two_pass = _pair(7)
    batch = torch.randn(64, 7)
    two_pass.load_state_dict(reference.state_dict())
    reference.eval(), two_pass.eval()
    assert torch.equal(two_pass(batch), reference(batch))
    assert torch.equal(two_pass.count, torch.tensor(1.0, dtype=torch.float64))  # no update in evaluation mode
    reference.train(), two_pass.train()
    mask = torch.ones(64, 1, dtype=torch.bool)
    assert torch.equal(two_pass(batch, mask=mask), reference(batch, mask=mask))
    assert torch.equal(two_pass.running_var, reference.running_var)
