"""The AMP learner's losses, rewards and statistics as pure functions of tensors.

Formulas of the original plugin (``../shared/spec/humanoid_amp_reference.md`` section 8) and of the AMP paper
(Peng et al. 2021, "AMP: Adversarial Motion Priors for Stylized Physics-Based Character Control", eq. 6-8):

* PPO (Schulman et al. 2017): clipped surrogate ``max(-A r, -A clip(r, 1 - e, 1 + e))``, critic ``(V - R)^2`` (no 1/2,
  as the original), bounds loss on the action means with soft bound 1.0.
* GAE with bootstrap values of the next state, zero after a termination (not after a time-out).
* Discriminator, ``log`` type (the original): BCE of agent and replay logits against 0 and demo logits against 1, each
  averaged over its own samples, halved; reward ``-log(max(1 - sigmoid(D), 1e-4)) * scale``.
* Discriminator, ``least_squares`` type (the paper): loss ``0.5 (D(demo) - 1)^2 + 0.5 (D(agent) + 1)^2`` (means);
  reward ``max(0, 1 - 0.25 (D - 1)^2) * scale``.
* Regularisers: logit-layer weight squares, gradient penalty ``mean(sum((dD/dx_demo)^2))`` on the (normalised) demo
  input, weight decay on every discriminator weight matrix.
* Reward combination: ``add`` (the original): ``w_task r_task + w_disc r_disc``; ``mul``: ``(w_task r_task) (w_disc
  r_disc)``.
"""

from __future__ import annotations

from enum import StrEnum

import torch
from torch.nn import functional

# The original's floor under 1 - sigmoid(D) in the log reward; bounds the reward at -log(1e-4) * scale.
DISC_REWARD_EPSILON = 1e-4


class DiscRewardType(StrEnum):
    """How the discriminator is trained and turned into a reward."""

    log = "log"  # binary cross-entropy, reward -log(1 - D) (the original plugin)
    least_squares = "least_squares"  # the AMP paper's least-squares GAN


class RewardCombine(StrEnum):
    """How the task and style (discriminator) rewards combine."""

    add = "add"
    mul = "mul"


# --- PPO ------------------------------------------------------------------------------------------------------------


def ppo_actor_loss(
    old_neglogp: torch.Tensor, neglogp: torch.Tensor, advantages: torch.Tensor, e_clip: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped surrogate loss ``[B]`` and the clipped fraction (scalar).

    Args:
        old_neglogp: ``[B]`` negative log-probabilities of the stored actions under the rollout policy.
        neglogp: ``[B]`` the same under the current policy.
        advantages: ``[B]`` normalised advantages.
        e_clip: clip range of the probability ratio.
    """
    ratio = torch.exp(old_neglogp - neglogp)
    surrogate = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - e_clip, 1.0 + e_clip)
    clip_frac = ((ratio - 1.0).abs() > e_clip).float().mean()
    return torch.maximum(surrogate, clipped), clip_frac


def critic_loss(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """Squared error ``[B, 1]`` of the (normalised) values against the (normalised) returns; unclipped."""
    return (values - returns) ** 2


def bound_loss(mus: torch.Tensor, soft_bound: float = 1.0) -> torch.Tensor:
    """``[B]``: squared excess of each action mean beyond +-``soft_bound``, summed over actions."""
    return (torch.clamp_min(mus - soft_bound, 0.0) ** 2 + torch.clamp_max(mus + soft_bound, 0.0) ** 2).sum(dim=-1)


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    dones: torch.Tensor,
    gamma: float,
    tau: float,
) -> torch.Tensor:
    """Generalised advantage estimates ``[T, N, 1]``, computed backwards over the horizon.

    ``delta_t = r_t + gamma next_values_t - values_t``; ``A_t = delta_t + gamma tau (1 - done_t) A_{t+1}``; ``A_T = 0``.

    Args:
        rewards: ``[T, N, 1]``.
        values: ``[T, N, 1]`` values of the states the actions were taken in.
        next_values: ``[T, N, 1]`` values of the states reached, already zero where the episode terminated (a
            time-out keeps its bootstrap value).
        dones: ``[T, N]`` the episode ended after step t (termination or time-out).
    """
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[0])
    not_done = 1.0 - dones.to(rewards.dtype).unsqueeze(-1)
    for t in reversed(range(rewards.shape[0])):  # a loop over time, not environments
        delta = rewards[t] + gamma * next_values[t] - values[t]
        last = delta + gamma * tau * not_done[t] * last
        advantages[t] = last
    return advantages


# --- the discriminator ----------------------------------------------------------------------------------------------


def disc_loss(agent_logits: torch.Tensor, demo_logits: torch.Tensor, reward_type: DiscRewardType | str) -> torch.Tensor:
    """The discriminator's classification loss (scalar).

    Args:
        agent_logits: ``[Na, 1]`` logits of the agent's AMP observations (current rollout and replay together).
        demo_logits: ``[Nd, 1]`` logits of the demonstrations.
        reward_type: ``log`` (BCE) or ``least_squares``.
    """
    if DiscRewardType(reward_type) is DiscRewardType.log:
        agent = functional.binary_cross_entropy_with_logits(agent_logits, torch.zeros_like(agent_logits))
        demo = functional.binary_cross_entropy_with_logits(demo_logits, torch.ones_like(demo_logits))
        return 0.5 * (agent + demo)
    return 0.5 * ((demo_logits - 1.0) ** 2).mean() + 0.5 * ((agent_logits + 1.0) ** 2).mean()


def disc_logit_regularization(logit_weights: torch.Tensor) -> torch.Tensor:
    """Sum of squares of the logit layer's weights (scalar)."""
    return torch.sum(torch.square(logit_weights))


def disc_gradient_penalty(demo_logits: torch.Tensor, demo_obs: torch.Tensor) -> torch.Tensor:
    """Mean over demonstrations of the squared norm of ``d logit / d obs`` (scalar), differentiable (the graph is kept
    so that the penalty itself can be minimised).

    Args:
        demo_logits: ``[Nd, 1]`` logits computed from ``demo_obs``.
        demo_obs: ``[Nd, F]`` the (normalised) discriminator input, with ``requires_grad``.
    """
    gradients = torch.autograd.grad(
        demo_logits,
        demo_obs,
        grad_outputs=torch.ones_like(demo_logits),
        create_graph=True,
        retain_graph=True,
        only_inputs=True,
    )[0]
    return torch.mean(torch.sum(torch.square(gradients), dim=-1))


def disc_weight_decay(weights: list[torch.Tensor]) -> torch.Tensor:
    """Sum of squares of every weight matrix of the discriminator (scalar)."""
    return torch.sum(torch.stack([torch.sum(torch.square(weight)) for weight in weights]))


def disc_accuracies(agent_logits: torch.Tensor, demo_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fractions of agent samples classified as agent (logit < 0) and of demos as demo (logit > 0)."""
    return (agent_logits < 0).float().mean(), (demo_logits > 0).float().mean()


def disc_reward(logits: torch.Tensor, reward_type: DiscRewardType | str, scale: float) -> torch.Tensor:
    """The style reward of each AMP observation, same shape as ``logits``.

    ``log``: ``-log(max(1 - sigmoid(D), 1e-4)) * scale``, in ``[0, 18.42 scale]``.
    ``least_squares``: ``max(0, 1 - 0.25 (D - 1)^2) * scale``, in ``[0, scale]``.
    """
    if DiscRewardType(reward_type) is DiscRewardType.log:
        probability = torch.sigmoid(logits)
        return -torch.log(torch.clamp_min(1.0 - probability, DISC_REWARD_EPSILON)) * scale
    return torch.clamp_min(1.0 - 0.25 * (logits - 1.0) ** 2, 0.0) * scale


def combine_rewards(
    task_reward: torch.Tensor,
    disc_reward_value: torch.Tensor,
    task_weight: float,
    disc_weight: float,
    mode: RewardCombine | str,
) -> torch.Tensor:
    """The reward PPO optimises: ``add`` (the original) or ``mul`` of the weighted task and style rewards."""
    if RewardCombine(mode) is RewardCombine.add:
        return task_weight * task_reward + disc_weight * disc_reward_value
    return (task_weight * task_reward) * (disc_weight * disc_reward_value)
