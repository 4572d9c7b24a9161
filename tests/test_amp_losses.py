"""The learner's pure maths against hand-computed values, and GAE against a plain loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isaacgymenvs.learning import amp_losses as losses


def test_bce_disc_loss_hand_computed() -> None:
    # Logit 0 everywhere: each BCE is log 2, the loss 0.5 (log 2 + log 2) = log 2.
    zeros = torch.zeros(4, 1)
    assert losses.disc_loss(zeros, zeros, "log").item() == pytest.approx(math.log(2))
    # Agent logit -2, demo logit +3: 0.5 (log(1 + e^-2) + log(1 + e^-3)).
    expected = 0.5 * (math.log1p(math.exp(-2)) + math.log1p(math.exp(-3)))
    assert losses.disc_loss(torch.full((5, 1), -2.0), torch.full((3, 1), 3.0), "log").item() == pytest.approx(expected)
    # Each side is averaged over its own samples: more agent samples do not weigh more.
    agent = torch.tensor([[-2.0], [0.0]])
    expected = 0.5 * ((math.log1p(math.exp(-2)) + math.log(2)) / 2 + math.log1p(math.exp(-3)))
    assert losses.disc_loss(agent, torch.tensor([[3.0]]), "log").item() == pytest.approx(expected)


def test_least_squares_disc_loss_hand_computed() -> None:
    # Perfect scores (agent -1, demo +1) cost nothing; D = 0 everywhere costs 0.5 + 0.5.
    assert losses.disc_loss(torch.full((4, 1), -1.0), torch.ones(4, 1), "least_squares").item() == 0.0
    assert losses.disc_loss(torch.zeros(4, 1), torch.zeros(2, 1), "least_squares").item() == pytest.approx(1.0)
    # agent 0.5 -> (1.5)^2 = 2.25; demo 0 -> 1; 0.5 (1 + 2.25)
    assert losses.disc_loss(torch.full((3, 1), 0.5), torch.zeros(3, 1), "least_squares").item() == pytest.approx(1.625)


def test_disc_rewards_hand_computed() -> None:
    logits = torch.tensor([[-100.0], [0.0], [100.0]])
    log_reward = losses.disc_reward(logits, "log", 2.0)
    # sigmoid(0) = 0.5 -> -log(0.5) x 2; a hopeless fake -> ~0; a perfect fake -> capped at -log(1e-4) x 2.
    np.testing.assert_allclose(log_reward.squeeze().numpy(), [0.0, 2 * math.log(2), -2 * math.log(1e-4)], atol=1e-5)
    ls_reward = losses.disc_reward(torch.tensor([[1.0], [-1.0], [0.0], [-5.0]]), "least_squares", 1.0)
    # max(0, 1 - 0.25 (D - 1)^2): D = 1 -> 1, D = -1 -> 0, D = 0 -> 0.75, far off -> 0.
    np.testing.assert_allclose(ls_reward.squeeze().numpy(), [1.0, 0.0, 0.75, 0.0])


def test_gradient_penalty_of_a_linear_discriminator() -> None:
    """For D(x) = w.x the input gradient is w everywhere: the penalty is |w|^2."""
    weight = torch.tensor([[1.0, -2.0, 0.5]], requires_grad=True)
    demo = torch.randn(6, 3, requires_grad=True)
    logits = demo @ weight.T
    penalty = losses.disc_gradient_penalty(logits, demo)
    assert penalty.item() == pytest.approx(1 + 4 + 0.25)
    assert penalty.requires_grad  # it can itself be minimised


def test_regularisers_and_accuracies() -> None:
    assert losses.disc_logit_regularization(torch.tensor([1.0, -2.0, 3.0])).item() == 14.0
    assert losses.disc_weight_decay([torch.tensor([1.0, 1.0]), torch.tensor([2.0])]).item() == 6.0
    agent_acc, demo_acc = losses.disc_accuracies(
        torch.tensor([[-1.0], [0.5], [-0.2], [-3.0]]), torch.tensor([[2.0], [-1.0]])
    )
    assert agent_acc.item() == 0.75 and demo_acc.item() == 0.5


def test_reward_combination() -> None:
    task, style = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 0.5])
    np.testing.assert_allclose(losses.combine_rewards(task, style, 0.5, 2.0, "add").numpy(), [6.5, 2.0])
    np.testing.assert_allclose(losses.combine_rewards(task, style, 0.5, 2.0, "mul").numpy(), [3.0, 1.0])
    # The original's weights (task 0, style 1) make "add" the pure style reward.
    np.testing.assert_allclose(losses.combine_rewards(task, style, 0.0, 1.0, "add").numpy(), style.numpy())
    with pytest.raises(ValueError):
        losses.combine_rewards(task, style, 1.0, 1.0, "max")


def test_ppo_pieces_hand_computed() -> None:
    # ratio = exp(old - new): 1.5 with advantage 2 is clipped to 1.2 -> loss max(-3, -2.4) = -2.4.
    old, new = torch.tensor([0.0, 0.0]), torch.tensor([-math.log(1.5), 0.0])
    loss, clip_frac = losses.ppo_actor_loss(old, new, torch.tensor([2.0, -1.0]), 0.2)
    np.testing.assert_allclose(loss.numpy(), [-2.4, 1.0], atol=1e-6)
    assert clip_frac.item() == 0.5
    # With a negative advantage the unclipped (larger) loss is kept: ratio 1.5, A = -1 -> max(1.5, 1.2) = 1.5.
    loss, _ = losses.ppo_actor_loss(torch.tensor([0.0]), torch.tensor([-math.log(1.5)]), torch.tensor([-1.0]), 0.2)
    assert loss.item() == pytest.approx(1.5)
    assert losses.critic_loss(torch.tensor([[1.0]]), torch.tensor([[3.0]])).item() == 4.0
    # Soft bound 1.0: 1.5 -> 0.25, -2 -> 1, 0.3 -> 0.
    assert losses.bound_loss(torch.tensor([[1.5, -2.0, 0.3]])).item() == pytest.approx(1.25)


def _gae_reference(
    rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, dones: np.ndarray, gamma: float, tau: float
) -> np.ndarray:
    """A plain per-environment, per-step loop."""
    horizon, envs = rewards.shape
    advantages = np.zeros_like(rewards)
    for env in range(envs):
        running = 0.0
        for t in reversed(range(horizon)):
            delta = rewards[t, env] + gamma * next_values[t, env] - values[t, env]
            running = delta + gamma * tau * (1.0 - dones[t, env]) * running
            advantages[t, env] = running
    return advantages


def test_gae_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(0)
    horizon, envs = 16, 7
    rewards, values, next_values = (rng.normal(size=(horizon, envs)) for _ in range(3))
    dones = (rng.uniform(size=(horizon, envs)) < 0.15).astype(np.float64)
    expected = _gae_reference(rewards, values, next_values, dones, 0.99, 0.95)
    result = losses.compute_gae(
        torch.from_numpy(rewards).unsqueeze(-1),
        torch.from_numpy(values).unsqueeze(-1),
        torch.from_numpy(next_values).unsqueeze(-1),
        torch.from_numpy(dones),
        0.99,
        0.95,
    )
    np.testing.assert_allclose(result.squeeze(-1).numpy(), expected, atol=1e-12)


def test_gae_bootstraps_time_outs_not_terminations() -> None:
    """One step, reward 1, V(s) = 0, V(s') = 10: a time-out keeps gamma V(s'), a fall (next value zeroed) does not."""
    reward, value = torch.ones(1, 2, 1), torch.zeros(1, 2, 1)
    next_values = torch.tensor([[[10.0], [0.0]]])  # env 0 timed out, env 1 fell (its next value was zeroed)
    dones = torch.ones(1, 2)
    advantages = losses.compute_gae(reward, value, next_values, dones, 0.99, 0.95)
    np.testing.assert_allclose(advantages.squeeze().numpy(), [1 + 9.9, 1.0], atol=1e-6)
