"""How fast a configuration could train on this machine at best: ``python -m isaacgymenvs.bench limit [overrides]``.

An epoch of AMP training cannot take less than its physics and its networks' arithmetic. This command measures both
at the configuration's sizes (the launcher's config with Hydra overrides; the CPU default when none), with nothing else
in them:

* the physics: the rollout's environment steps at raw MuJoCo's rate (``bench env``'s raw stepping, built from the
  run's task configuration: its model, physics steps per control step and environment count, on the run's threads;
  no task maths, no conversions, no observations; random servo targets, a bare reset after a fall);
* the networks, bare: eager torch linear layers and the configured activations in the run's precision (bfloat16
  autocast where ``mixed_precision`` resolves to it), on inputs made once. In the rollout, the actor on every
  environment once per step, then the critic on the rollout's states and the discriminator on its AMP observations.
  In the update, ``mini_epochs`` x minibatches gradient steps, each the actor's and critic's forward and backward
  passes on a policy minibatch, the discriminator's on three AMP minibatches (the agent's, the replay's and the
  demonstrations') with the gradient penalty's double backward on the demonstrations, and one Adam step. No
  normalisers, PPO losses, buffers, environment resets or logging.

The two add up: an update needs the whole rollout, the next rollout acts with the updated policy, and on a CPU the
physics and the networks each need every core while they run. The ceiling is ``samples / (samples / raw rate +
network time)`` samples/s: what eager torch networks and C MuJoCo, with these physics settings and sizes, leave room
for on this machine at this moment (an idle one: with other work running, one torch thread can beat every core, which
the launcher's thread tuner finds and this does not). A machine on which it is below a throughput target cannot meet
that target with this code's building blocks. ``bench targets`` reports it beside each round's end-to-end rate.

    python -m isaacgymenvs.bench limit [--seconds 1] [--repeats 3] [overrides]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

# rl_games' activation names (its network builder's factory) and the layers they build.
ACTIVATIONS = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "elu": nn.ELU, "selu": nn.SELU, "swish": nn.SiLU,
    "gelu": nn.GELU, "softplus": nn.Softplus, "None": nn.Identity,
}  # fmt: skip


@dataclass(frozen=True)
class EpochWork:
    """The sizes of one epoch's physics and network work (one process).

    Attributes:
        num_envs: environments stepped together.
        horizon: control steps per environment per epoch.
        minibatch_size: policy rows per gradient step.
        mini_epochs: passes over the epoch's samples.
        amp_minibatch_size: rows per AMP minibatch (each of agent, replay and demonstrations).
        units: hidden units of the actor and critic MLPs.
        disc_units: hidden units of the discriminator MLP.
        activation: the actor's and critic's hidden activation (rl_games' name).
        disc_activation: the discriminator's.
        separate: actor and critic have their own MLPs (else the critic's head reads the actor's).
        obs_size, action_size, amp_obs_size: the networks' input and output sizes.
        grad_penalty: whether the discriminator's gradient penalty (a double backward) is in the loss.
        bfloat16: whether the networks run in bfloat16 autocast.
        device: where the networks run.
        threads: the run's ``num_threads`` (MuJoCo's and torch's; 0: every core this process may use).
        task_config: the run's resolved task configuration (``task``), for the physics.
    """

    num_envs: int
    horizon: int
    minibatch_size: int
    mini_epochs: int
    amp_minibatch_size: int
    units: tuple[int, ...]
    disc_units: tuple[int, ...]
    activation: str
    disc_activation: str
    separate: bool
    obs_size: int
    action_size: int
    amp_obs_size: int
    grad_penalty: bool
    bfloat16: bool
    device: str
    threads: int = 0
    task_config: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def samples(self) -> int:
        """Environment samples per epoch."""
        return self.num_envs * self.horizon

    @property
    def gradient_steps(self) -> int:
        """Gradient steps per epoch: mini-epochs times minibatches (rl_games' ``batch_size // minibatch_size``)."""
        return self.mini_epochs * max(1, self.samples // self.minibatch_size)

    def describe(self) -> str:
        """One line: the sizes as printed before the measurement."""
        precision = "bfloat16" if self.bfloat16 else "float32"
        threads = f"{self.threads} threads" if self.threads else "every core"
        return (
            f"{self.num_envs} environments x {self.horizon} steps = {self.samples:,} samples per epoch; "
            f"{self.gradient_steps} gradient steps of {self.minibatch_size:,} policy and 3 x "
            f"{self.amp_minibatch_size:,} discriminator rows; networks {list(self.units)} / {list(self.disc_units)} "
            f"in {precision} on {self.device}; {threads}"
        )


def epoch_work(overrides: list[str]) -> EpochWork:
    """The epoch's sizes for a training launch of ``task=HumanoidAMP`` with ``overrides`` on this machine, checked and
    adjusted as the launcher does (a minibatch larger than the batch shrinks to it).

    Raises:
        UsageError, ConfigError: a command line or value the launcher would refuse, or one this measurement cannot
            stand for (one line).
    """
    # The command line sits above the launcher, as bench train --profile's does.
    from isaacgymenvs.launcher import _resolve, compose
    from isaacgymenvs.learning.amp_config import ConfigError, check_train_params
    from isaacgymenvs.learning.precision import resolve_mixed_precision
    from isaacgymenvs.tasks.amp.backend_choice import select_backend
    from isaacgymenvs.tasks.amp.humanoid_amp_base import NUM_ACTIONS, NUM_OBS
    from isaacgymenvs.tasks.amp.humanoid_amp_config import HumanoidAMPConfig
    from isaacgymenvs.tasks.humanoid_amp import NUM_AMP_OBS_PER_STEP

    config = _resolve(compose(["task=HumanoidAMP", *overrides]))
    task = HumanoidAMPConfig.from_cfg(config["task"])
    params = config["train"]["params"]
    amp, _ = check_train_params(params, task.num_envs, training=True, amp_obs_steps=task.num_amp_obs_steps)
    if config["multi_gpu"]:
        raise ConfigError("bench limit measures one process; drop multi_gpu=True (each rank gets a share of the cores)")
    backend = select_backend(task.sim.backend, str(config["sim_device"]))
    if backend != "mujoco":
        raise ConfigError(
            f"bench limit times C MuJoCo's physics, and this run would use {backend}; add task.sim.backend=mujoco"
        )
    device = str(config["rl_device"])
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"rl_device={device}, but torch sees no CUDA device here; use rl_device=cpu")
    train, network = params["config"], params["network"]
    units, disc_units = network["mlp"].get("units"), network["disc"].get("units")
    for name, widths in (("mlp", units), ("disc", disc_units)):
        if not widths:
            raise ConfigError(f"train.params.network.{name}.units must list at least one layer width, got {widths!r}")
    activation, disc_activation = network["mlp"].get("activation", "relu"), network["disc"].get("activation", "relu")
    for name, value in (("mlp", activation), ("disc", disc_activation)):
        if value not in ACTIVATIONS:
            raise ConfigError(
                f"train.params.network.{name}.activation must be one of {list(ACTIVATIONS)}, got {value!r}"
            )
    return EpochWork(
        num_envs=task.num_envs,
        horizon=train["horizon_length"],
        minibatch_size=train["minibatch_size"],
        mini_epochs=train["mini_epochs"],
        amp_minibatch_size=amp.amp_minibatch_size,
        units=tuple(units),
        disc_units=tuple(disc_units),
        activation=activation,
        disc_activation=disc_activation,
        separate=bool(network.get("separate", False)),  # rl_games' default
        obs_size=NUM_OBS,
        action_size=NUM_ACTIONS,
        amp_obs_size=NUM_AMP_OBS_PER_STEP * task.num_amp_obs_steps,
        grad_penalty=amp.disc_grad_penalty != 0.0,
        bfloat16=resolve_mixed_precision(train.get("mixed_precision", False), device),
        device=device,
        threads=int(config["num_threads"]),
        task_config=config["task"],
    )


def _mlp(inputs: int, units: tuple[int, ...], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in units:
        layers += [nn.Linear(inputs, width), ACTIVATIONS[activation]()]
        inputs = width
    return nn.Sequential(*layers)


class BareNetworks:
    """The three networks of the configuration as plain layers, with one epoch's inputs made once.

    Inputs (standard normal, on ``work.device``): ``obs`` ``[samples, obs_size]`` and ``amp_obs`` ``[samples,
    amp_obs_size]`` for the rollout; ``obs_minibatch`` ``[minibatch_size, obs_size]`` and ``amp_minibatches`` ``[3,
    amp_minibatch_size, amp_obs_size]`` (agent, replay, demonstrations) for a gradient step. The caller's random
    stream is left as it was.
    """

    def __init__(self, work: EpochWork, seed: int = 0) -> None:
        from isaacgymenvs.learning.common_agent import fused_adam_available

        self.work = work
        device = work.device
        with torch.random.fork_rng(devices=[]):  # the layers' initialisers draw from the global stream
            torch.manual_seed(seed)
            self.actor = _mlp(work.obs_size, work.units, work.activation).to(device)
            # Without separate networks the critic's head reads the actor's features (one trunk pass for both).
            self.critic = _mlp(work.obs_size, work.units, work.activation).to(device) if work.separate else None
            self.mu = nn.Linear(work.units[-1], work.action_size).to(device)
            self.value = nn.Linear(work.units[-1], 1).to(device)
            disc_trunk = _mlp(work.amp_obs_size, work.disc_units, work.disc_activation)
            self.disc = nn.Sequential(disc_trunk, nn.Linear(work.disc_units[-1], 1)).to(device)
        modules = [self.actor, self.mu, self.value, self.disc] + ([self.critic] if self.critic is not None else [])
        parameters = [p for module in modules for p in module.parameters()]
        self.optimizer = torch.optim.Adam(parameters, lr=1e-5, fused=fused_adam_available(device) or None)
        generator = torch.Generator().manual_seed(seed)

        def normal(*shape: int) -> torch.Tensor:
            return torch.randn(shape, generator=generator).to(device)

        self.obs = normal(work.samples, work.obs_size)
        self.amp_obs = normal(work.samples, work.amp_obs_size)
        self.obs_minibatch = normal(work.minibatch_size, work.obs_size)
        self.amp_minibatches = normal(3, work.amp_minibatch_size, work.amp_obs_size)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(torch.device(self.work.device).type, dtype=torch.bfloat16, enabled=self.work.bfloat16)

    def _policy(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Action means ``[n, action_size]`` and values ``[n, 1]`` of ``obs`` ``[n, obs_size]``."""
        features = self.actor(obs)
        return self.mu(features), self.value(features if self.critic is None else self.critic(obs))

    def rollout(self) -> None:
        """The rollout's passes: the actor once per step on every environment, then the critic on the epoch's states
        and the discriminator on its AMP observations."""
        work = self.work
        with torch.no_grad(), self._autocast():
            for step in range(work.horizon):
                self.mu(self.actor(self.obs[step * work.num_envs : (step + 1) * work.num_envs]))
            self.value(self.actor(self.obs) if self.critic is None else self.critic(self.obs))
            self.disc(self.amp_obs)

    def gradient_step(self) -> None:
        """One gradient step: actor and critic on a policy minibatch, the discriminator on three AMP minibatches, the
        gradient penalty on the demonstrations' rows, backward and Adam."""
        demo = self.amp_minibatches[2].clone().requires_grad_(self.work.grad_penalty)
        with self._autocast():
            mean, value = self._policy(self.obs_minibatch)
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
        torch.cuda.synchronize(device)


def network_seconds(work: EpochWork, repeats: int = 3) -> dict[str, float]:
    """Wall time of one epoch's bare network work, with torch on the run's threads (restored after).

    Returns:
        ``rollout``, ``update`` and ``total`` (s): medians over ``repeats`` epochs after one warm-up epoch.
    """
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


def ceiling(samples: int, raw_rate: float, network_time: float) -> float:
    """The most samples/s an epoch of ``samples`` can reach when its physics runs at ``raw_rate`` env-steps/s and its
    networks take ``network_time`` seconds, the one after the other."""
    return samples / (samples / raw_rate + network_time)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench limit", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each of raw MuJoCo's 3 timed blocks (1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs of the bare networks; median (3)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as for launch.py (the CPU default when none)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.repeats <= 0:
        parser.error("--seconds and --repeats must be positive")
    return args


def checked_work(overrides: list[str]) -> EpochWork | int:
    """:func:`epoch_work`, or the exit status after its error was printed in one line (2: the command line, 1: a
    value)."""
    from isaacgymenvs.launcher import RUN_INPUT_ERRORS, UsageError

    try:
        return epoch_work(overrides)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RUN_INPUT_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """``bench limit``: the sizes, raw MuJoCo's rate, the bare networks' time and the ceiling, one line each."""
    from isaacgymenvs.bench.timing import StolenTime, machine_description

    args = _parse(argv)
    work = checked_work(args.overrides)
    if isinstance(work, int):
        return work
    from isaacgymenvs.bench.env import raw_mujoco_rate

    print(machine_description())
    print(work.describe(), flush=True)
    stolen = StolenTime()
    with raw_mujoco_rate(work.num_envs, threads=work.threads, task_config=work.task_config) as raw_rate:
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
