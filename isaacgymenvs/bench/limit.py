"""How fast a configuration could train on this machine at best: ``python -m isaacgymenvs.bench limit [overrides]``.

An epoch of AMP training cannot take less than its physics and its networks' arithmetic. This command measures both
at the configuration's sizes (the launcher's config with Hydra overrides; the CPU default when none), with nothing else
in them:

* the physics: the rollout's environment steps at raw MuJoCo's rate (``bench env``'s raw stepping at the run's
  environment count on every core: no task maths, no conversions, no observations);
* the networks, bare: plain linear layers and the configured activation in the run's precision (bfloat16 autocast where
  ``mixed_precision`` resolves to it), on inputs made once. In the rollout, the actor on every environment once per
  step, then the critic on the rollout's states and the discriminator on its AMP observations. In the update,
  ``mini_epochs`` x minibatches gradient steps, each the actor's and critic's forward and backward passes on a policy
  minibatch, the discriminator's on three AMP minibatches (the agent's, the replay's and the demonstrations') with the
  gradient penalty's double backward on the demonstrations, and one Adam step. No normalisers, PPO losses, buffers,
  environment resets or logging.

The two add up: an update needs the whole rollout, the next rollout acts with the updated policy, and on a CPU the
physics and the networks each need every core while they run. The ceiling is ``samples / (samples / raw rate + networks'
time)`` samples/s. It bounds what any code could reach with the same physics, networks and sizes on this machine at this
moment; a machine on which it is below a throughput target cannot meet that target without changing the algorithm's
sizes. ``bench targets`` reports it beside each round's end-to-end rate.

    python -m isaacgymenvs.bench limit [--seconds 1] [--repeats 3] [overrides]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "silu": nn.SiLU}


@dataclass(frozen=True)
class EpochWork:
    """The sizes of one epoch's physics and network work (per process).

    Attributes:
        num_envs: environments stepped together.
        horizon: control steps per environment per epoch.
        minibatch: policy rows per gradient step.
        mini_epochs: passes over the epoch's samples.
        amp_minibatch: rows per AMP minibatch (each of agent, replay and demonstrations).
        units: hidden units of the actor and critic MLPs.
        disc_units: hidden units of the discriminator MLP.
        activation: the hidden layers' activation (rl_games' name).
        separate: actor and critic have their own MLPs (else the critic's head reads the actor's).
        obs_size, action_size, amp_obs_size: the networks' input and output sizes.
        grad_penalty: whether the discriminator's gradient penalty (a double backward) is in the loss.
        bfloat16: whether the networks run in bfloat16 autocast.
        device: where the networks run.
        threads: the run's ``num_threads`` (MuJoCo's and torch's; 0: every core this process may use).
    """

    num_envs: int
    horizon: int
    minibatch: int
    mini_epochs: int
    amp_minibatch: int
    units: tuple[int, ...]
    disc_units: tuple[int, ...]
    activation: str
    separate: bool
    obs_size: int
    action_size: int
    amp_obs_size: int
    grad_penalty: bool
    bfloat16: bool
    device: str
    threads: int = 0

    @property
    def samples(self) -> int:
        """Environment samples per epoch."""
        return self.num_envs * self.horizon

    @property
    def gradient_steps(self) -> int:
        """Gradient steps per epoch: mini-epochs times minibatches (rl_games' ``batch_size // minibatch_size``)."""
        return self.mini_epochs * max(1, self.samples // self.minibatch)

    def describe(self) -> str:
        """One line: the sizes as printed before the measurement."""
        precision = "bfloat16" if self.bfloat16 else "float32"
        threads = f"{self.threads} threads" if self.threads else "every core"
        return (
            f"{self.num_envs} environments x {self.horizon} steps = {self.samples:,} samples per epoch; "
            f"{self.gradient_steps} gradient steps of {self.minibatch:,} policy and 3 x {self.amp_minibatch:,} "
            f"discriminator rows; networks {list(self.units)} / {list(self.disc_units)} in {precision} on "
            f"{self.device}; {threads}"
        )


def epoch_work(overrides: list[str]) -> EpochWork:
    """The epoch's sizes for a training launch of ``task=HumanoidAMP`` with ``overrides`` on this machine, checked and
    adjusted as the launcher does (a minibatch larger than the batch shrinks to it).

    Raises:
        UsageError, ConfigError: a command line or value the launcher would refuse (one line).
    """
    # The command line sits above the launcher, as bench train --profile's does.
    from isaacgymenvs.launcher import _resolve, compose
    from isaacgymenvs.learning.amp_config import ConfigError, check_train_params
    from isaacgymenvs.learning.precision import resolve_mixed_precision
    from isaacgymenvs.tasks.amp.humanoid_amp_base import NUM_ACTIONS, NUM_OBS
    from isaacgymenvs.tasks.amp.humanoid_amp_config import HumanoidAMPConfig

    config = _resolve(compose(["task=HumanoidAMP", *overrides]))
    task = HumanoidAMPConfig.from_cfg(config["task"])
    params = config["train"]["params"]
    amp, _ = check_train_params(params, task.num_envs, training=True, amp_obs_steps=task.num_amp_obs_steps)
    train, network = params["config"], params["network"]
    device = str(config["rl_device"])
    if device.startswith("cuda") and not torch.cuda.is_available():
        device = "cpu"
    activation = network["mlp"].get("activation", "relu")
    if activation not in ACTIVATIONS or network["disc"].get("activation", "relu") != activation:
        raise ConfigError(f"bench limit knows the activations {', '.join(ACTIVATIONS)}, one for all three networks")
    return EpochWork(
        num_envs=task.num_envs,
        horizon=train["horizon_length"],
        minibatch=train["minibatch_size"],
        mini_epochs=train["mini_epochs"],
        amp_minibatch=amp.amp_minibatch_size,
        units=tuple(network["mlp"]["units"]),
        disc_units=tuple(network["disc"]["units"]),
        activation=activation,
        separate=bool(network.get("separate", True)),
        obs_size=NUM_OBS,
        action_size=NUM_ACTIONS,
        amp_obs_size=NUM_OBS * task.num_amp_obs_steps,
        grad_penalty=amp.disc_grad_penalty != 0.0,
        bfloat16=resolve_mixed_precision(train.get("mixed_precision", False), device),
        device=device,
        threads=int(config["num_threads"]),
    )


def _mlp(inputs: int, units: tuple[int, ...], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in units:
        layers += [nn.Linear(inputs, width), ACTIVATIONS[activation]()]
        inputs = width
    return nn.Sequential(*layers)


class BareNetworks:
    """The three networks of the configuration as plain layers, with one epoch's inputs made once."""

    def __init__(self, work: EpochWork, seed: int = 0) -> None:
        from isaacgymenvs.learning.common_agent import fused_adam_available

        torch.manual_seed(seed)
        self.work = work
        device = work.device
        self.actor = _mlp(work.obs_size, work.units, work.activation).to(device)
        # Without separate networks the critic's head reads the actor's features (one trunk pass for both).
        self.critic = _mlp(work.obs_size, work.units, work.activation).to(device) if work.separate else None
        self.mu = nn.Linear(work.units[-1], work.action_size).to(device)
        self.value = nn.Linear(work.units[-1], 1).to(device)
        disc_trunk = _mlp(work.amp_obs_size, work.disc_units, work.activation)
        self.disc = nn.Sequential(disc_trunk, nn.Linear(work.disc_units[-1], 1)).to(device)
        modules = [self.actor, self.mu, self.value, self.disc] + ([self.critic] if self.critic is not None else [])
        parameters = [p for module in modules for p in module.parameters()]
        self.optimizer = torch.optim.Adam(parameters, lr=1e-5, fused=fused_adam_available(device) or None)
        self.states = torch.randn(work.samples, work.obs_size, device=device)
        self.amp_states = torch.randn(work.samples, work.amp_obs_size, device=device)
        self.minibatch = torch.randn(work.minibatch, work.obs_size, device=device)
        self.amp_minibatches = torch.randn(3, work.amp_minibatch, work.amp_obs_size, device=device)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(torch.device(self.work.device).type, dtype=torch.bfloat16, enabled=self.work.bfloat16)

    def _policy(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Action means and values of ``states``."""
        features = self.actor(states)
        return self.mu(features), self.value(features if self.critic is None else self.critic(states))

    def rollout(self) -> None:
        """The rollout's passes: the actor once per step on every environment, then the critic on the epoch's states
        and the discriminator on its AMP observations."""
        work = self.work
        with torch.no_grad(), self._autocast():
            for step in range(work.horizon):
                self.mu(self.actor(self.states[step * work.num_envs : (step + 1) * work.num_envs]))
            self.value(self.actor(self.states) if self.critic is None else self.critic(self.states))
            self.disc(self.amp_states)

    def gradient_step(self) -> None:
        """One gradient step: actor and critic on a policy minibatch, the discriminator on three AMP minibatches, the
        gradient penalty on the demonstrations' rows, backward and Adam."""
        demo = self.amp_minibatches[2].clone().requires_grad_(self.work.grad_penalty)
        with self._autocast():
            mean, value = self._policy(self.minibatch)
            agent_logits = self.disc(self.amp_minibatches[:2].reshape(-1, self.work.amp_obs_size))
            demo_logits = self.disc(demo)
        loss = mean.float().square().mean() + value.float().square().mean()
        loss = loss + agent_logits.float().mean() - demo_logits.float().mean()
        if self.work.grad_penalty:
            (gradient,) = torch.autograd.grad(demo_logits.float().sum(), demo, create_graph=True)
            loss = loss + gradient.square().sum(-1).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def epoch(self) -> None:
        """One epoch's network work."""
        self.rollout()
        for _ in range(self.work.gradient_steps):
            self.gradient_step()


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def network_seconds(work: EpochWork, repeats: int = 3) -> dict[str, float]:
    """Median wall time (s) of one epoch's bare network work over ``repeats`` epochs after one warm-up epoch:
    ``rollout``, ``update`` and ``total``, with torch on the run's threads."""
    from isaacgymenvs.physics.mujoco_threads import default_thread_count

    threads = torch.get_num_threads()
    torch.set_num_threads(work.threads or default_thread_count())
    try:
        return _timed_epochs(BareNetworks(work), repeats)
    finally:
        torch.set_num_threads(threads)


def _timed_epochs(networks: BareNetworks, repeats: int) -> dict[str, float]:
    work = networks.work
    networks.epoch()  # warm-up: allocations, kernels' first calls
    times: dict[str, list[float]] = {"rollout": [], "update": []}
    for _ in range(repeats):
        _synchronize(work.device)
        start = time.perf_counter()
        networks.rollout()
        _synchronize(work.device)
        middle = time.perf_counter()
        for _ in range(work.gradient_steps):
            networks.gradient_step()
        _synchronize(work.device)
        times["rollout"].append(middle - start)
        times["update"].append(time.perf_counter() - middle)
    medians = {part: statistics.median(values) for part, values in times.items()}
    return {**medians, "total": medians["rollout"] + medians["update"]}


def ceiling(samples: int, raw_rate: float, networks_seconds: float) -> float:
    """The most samples/s an epoch of ``samples`` can reach when its physics runs at ``raw_rate`` env-steps/s and its
    networks take ``networks_seconds``, the one after the other."""
    return samples / (samples / raw_rate + networks_seconds)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench limit", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each of raw MuJoCo's 3 timed blocks (1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs of the bare networks; median (3)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as for launch.py (the CPU default when none)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.repeats <= 0:
        parser.error("--seconds and --repeats must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    from isaacgymenvs.bench.timing import StolenTime, machine_description
    from isaacgymenvs.launcher import RUN_INPUT_ERRORS, UsageError

    args = _parse(argv)
    try:
        work = epoch_work(args.overrides)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RUN_INPUT_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    from isaacgymenvs.bench.env import raw_mujoco_rate

    print(machine_description())
    print(work.describe(), flush=True)
    stolen = StolenTime()
    with raw_mujoco_rate(work.num_envs, threads=work.threads) as raw_rate:
        raw = raw_rate(args.seconds)
    physics = work.samples / raw
    print(f"raw MuJoCo at {work.num_envs} environments: {raw:,.0f} env-steps/s, {physics:.3f} s per epoch", flush=True)
    seconds = network_seconds(work, args.repeats)
    print(
        f"the networks, bare: {seconds['total']:.3f} s per epoch (rollout {seconds['rollout']:.3f} s, "
        f"{work.gradient_steps} gradient steps {seconds['update']:.3f} s)"
    )
    print(f"the ceiling: {ceiling(work.samples, raw, seconds['total']):,.0f} samples/s end to end")
    note = stolen.note()
    if note:
        print(note)
    return 0
