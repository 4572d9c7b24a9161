"""How far bfloat16 networks (``mixed_precision``) move the policy, the value and the discriminator from float32.

Runs the networks of a checkpoint (or freshly initialised ones of the default configuration) on the same inputs
twice, under :func:`isaacgymenvs.learning.precision.network_autocast` and without, and prints per output the RMS and
largest difference, the action means' also in units of the exploration noise sigma; then what PPO sees: the
difference of the log-probability of actions sampled around the float32 means, as its standard deviation and the
share of samples whose probability ratio it moves by more than PPO's clip (0.2). Last, whether a row's result depends
on the batch it is computed in (the rollout runs 512 rows at a time, the update 4096): when it does not, the rollout's
log-probabilities and the update's first ones agree exactly under mixed precision, as they do in float32.

Inputs are standard-normal in the normaliser's units (what the networks see; clipped to +-5), not states of the task.

    python -m isaacgymenvs.bench precision [--checkpoint runs/<experiment>/nn/<experiment>.pth] [--rows 4096]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path
from typing import Any

import torch

from isaacgymenvs.bench.timing import machine_description
from isaacgymenvs.tasks.amp.humanoid_amp_base import NUM_ACTIONS
from isaacgymenvs.tasks.humanoid_amp import NUM_AMP_OBS_PER_STEP

PPO_CLIP = 0.2


def _units(weights: dict[str, torch.Tensor], prefix: str) -> list[int]:
    """Layer widths of an MLP from its Linear weights ``<prefix>.<index>.weight``, in order."""
    indices = sorted(
        int(key.split(".")[1]) for key in weights if key.startswith(f"{prefix}.") and key.endswith("weight")
    )
    return [weights[f"{prefix}.{index}.weight"].shape[0] for index in indices]


def build_networks(checkpoint: str | None, seed: int) -> tuple[Any, int, int, str]:
    """The AMP network (actor, critic, discriminator), its observation and AMP-observation sizes, and a description."""
    from omegaconf import OmegaConf

    from isaacgymenvs import compose_config
    from isaacgymenvs.learning.amp_network_builder import AMPBuilder
    from isaacgymenvs.learning.checkpoints import load_checkpoint

    config = compose_config(["task=HumanoidAMP"])
    network_params = OmegaConf.to_container(config.train.params.network, resolve=True)
    torch.manual_seed(seed)
    if checkpoint is None:
        obs_size, actions = NUM_AMP_OBS_PER_STEP, NUM_ACTIONS
        amp_size = NUM_AMP_OBS_PER_STEP * int(config.task.env.numAMPObsSteps)
        weights, source = None, f"fresh networks of the default configuration (seed {seed})"
    else:
        state = load_checkpoint(checkpoint)
        weights = {
            key.removeprefix("a2c_network."): value
            for key, value in state["model"].items()
            if key.startswith("a2c_network.")
        }
        network_params["mlp"]["units"] = _units(weights, "actor_mlp")
        network_params["disc"]["units"] = _units(weights, "_disc_mlp")
        obs_size, actions = weights["actor_mlp.0.weight"].shape[1], weights["mu.weight"].shape[0]
        amp_size = weights["_disc_mlp.0.weight"].shape[1]
        source = f"checkpoint {checkpoint}"
    builder = AMPBuilder()
    builder.load(network_params)
    with contextlib.redirect_stdout(io.StringIO()):  # rl_games prints each MLP it builds
        network = builder.build(
            "amp", actions_num=actions, input_shape=(obs_size,), amp_input_shape=(amp_size,), value_size=1, num_seqs=1
        )
    if weights is not None:
        network.load_state_dict(weights)
    return network.eval(), obs_size, amp_size, source


def _outputs(network: Any, obs: torch.Tensor, amp_obs: torch.Tensor, mixed: bool) -> dict[str, torch.Tensor]:
    from isaacgymenvs.learning.precision import network_autocast

    with torch.no_grad(), network_autocast("cpu", mixed):
        mu, _, value, _ = network({"obs": obs})
        return {"mu": mu.float(), "value": value.float(), "logit": network.eval_disc(amp_obs).float()}


def measure(network: Any, obs_size: int, amp_size: int, rows: int, seed: int) -> dict[str, float]:
    """The differences described in the module docstring, as a flat dict of numbers."""
    generator = torch.Generator().manual_seed(seed)
    obs = torch.randn(rows, obs_size, generator=generator).clamp(-5, 5)
    amp_obs = torch.randn(rows, amp_size, generator=generator).clamp(-5, 5)
    full = _outputs(network, obs, amp_obs, mixed=False)
    mixed = _outputs(network, obs, amp_obs, mixed=True)
    sigma = network.sigma.detach().exp()
    results: dict[str, float] = {"sigma": float(sigma.mean())}
    for name in ("mu", "value", "logit"):
        difference = mixed[name] - full[name]
        results[f"{name}_rms"] = float(difference.pow(2).mean().sqrt())
        results[f"{name}_max"] = float(difference.abs().max())
    actions = full["mu"] + sigma * torch.randn(full["mu"].shape, generator=generator)
    log_ratio = (-0.5 * ((actions - mixed["mu"]) / sigma) ** 2 + 0.5 * ((actions - full["mu"]) / sigma) ** 2).sum(-1)
    results["log_ratio_std"] = float(log_ratio.std())
    results["beyond_clip"] = float(((log_ratio.exp() - 1).abs() > PPO_CLIP).float().mean())
    part = max(1, rows // 8)
    in_part = _outputs(network, obs[:part], amp_obs[:part], mixed=True)["mu"]
    results["part_rows"] = part
    results["batch_dependence"] = float((in_part - mixed["mu"][:part]).abs().max())
    return results


def report(results: dict[str, float], rows: int) -> list[str]:
    sigma = results["sigma"]
    lines = [
        f"bfloat16 autocast against float32, {rows} standard-normal inputs; exploration noise sigma {sigma:.4f}",
        f"{'output':<28}{'rms difference':>16}{'max difference':>16}",
    ]
    for name, label in (("mu", "action means"), ("value", "values (normalised)"), ("logit", "discriminator logits")):
        lines.append(f"{label:<28}{results[name + '_rms']:>16.2e}{results[name + '_max']:>16.2e}")
    lines += [
        f"action means in sigma units: rms {results['mu_rms'] / sigma:.4f}, max {results['mu_max'] / sigma:.4f}",
        f"log-probability of actions sampled around the float32 means, bfloat16 minus float32: std "
        f"{results['log_ratio_std']:.4f}; probability ratio moved by more than PPO's clip {PPO_CLIP}: "
        f"{100 * results['beyond_clip']:.2f} % of samples",
        f"a row's action mean computed among {results['part_rows']:.0f} rows or among {rows}: largest difference "
        f"{results['batch_dependence']:.2e}"
        + (" (none: rollout and update agree)" if not results["batch_dependence"] else ""),
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench precision", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a training checkpoint (.pth); default: fresh networks")
    parser.add_argument("--rows", type=int, default=4096, help="inputs per network (4096)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs and of fresh networks (0)")
    args = parser.parse_args(argv)
    if args.rows < 8:
        print(f"error: --rows must be at least 8, got {args.rows}", file=sys.stderr)
        return 2
    if args.checkpoint is not None and not Path(args.checkpoint).is_file():
        print(f"error: --checkpoint {args.checkpoint}: no such file", file=sys.stderr)
        return 2
    from isaacgymenvs.learning.checkpoints import CheckpointError
    from isaacgymenvs.learning.precision import bf16_matmul_native

    print(machine_description(), flush=True)
    try:
        network, obs_size, amp_size, source = build_networks(args.checkpoint, args.seed)
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (KeyError, RuntimeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"error: {args.checkpoint}: not the AMP networks this benchmark reads ({reason})", file=sys.stderr)
        return 1
    native = "yes" if bf16_matmul_native("cpu") else "no (emulated: slow, and auto keeps float32)"
    print(f"{source}; bfloat16 matrix units (AMX) on this CPU: {native}")
    print("\n".join(report(measure(network, obs_size, amp_size, args.rows, args.seed), args.rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
