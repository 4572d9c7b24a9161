"""Why episodes end: each early termination of the task classified by the contacts that caused it.

The task ends an episode (spec 6.2) when a body other than the feet has a contact-force component above 0.1 N and
some non-foot body is below 0.5 m. That contact may be with the ground (a fall) or with the character's own limbs (a
hand brushing a thigh, the thighs touching while running). For every termination this benchmark re-runs MuJoCo's
collision detection on the final state of that environment and sorts it into:

* ``ground``: an offending body touches the floor;
* ``self only``: the offending bodies touch only the character's own bodies;
* ``unclear``: no contact of an offending body is left at the final state (it was in an earlier substep).

It also counts which body pairs were in contact.

    python -m isaacgymenvs.bench terminations [overrides] [--policy zero|init|checkpoint] [--checkpoint FILE]
        [--steps 300] [--envs 256]

``init`` acts like an untrained policy (actions ~ N(0, 0.055), the original's initial sigma); ``checkpoint`` plays a
trained one deterministically.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

import mujoco
import numpy as np
import torch

INITIAL_SIGMA = float(np.exp(-2.9))  # the policy's fixed standard deviation (sigma_init -2.9 in the train config)


def offending_bodies(contact_forces: torch.Tensor, contact_body_ids: torch.Tensor) -> torch.Tensor:
    """``[N, B]`` bools: bodies outside ``contact_body_ids`` with a contact-force component above 0.1 N (the task's
    test, per body)."""
    offending = (contact_forces > 0.1).any(dim=-1)
    offending[:, contact_body_ids] = False
    return offending


def classify(
    model: mujoco.MjModel, data: mujoco.MjData, qpos: np.ndarray, offending_body_ids: set[int]
) -> tuple[str, list[tuple[str, str]]]:
    """The cause of one termination (``ground``, ``self only`` or ``unclear``) and the body pairs in contact that
    involve an offending body, from collision detection at ``qpos``; body ids are MuJoCo's."""
    data.qpos[:] = qpos
    mujoco.mj_fwdPosition(model, data)
    floor = {geom for geom in range(model.ngeom) if model.geom_bodyid[geom] == 0}
    touches_ground, touches_self, pairs = False, False, []
    for contact in data.contact[: data.ncon]:
        if contact.dist > 0:
            continue
        body1, body2 = model.geom_bodyid[contact.geom1], model.geom_bodyid[contact.geom2]
        if body1 not in offending_body_ids and body2 not in offending_body_ids:
            continue
        names = sorted(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, body) or "world" for body in (body1, body2))
        pairs.append((names[0], names[1]))
        if contact.geom1 in floor or contact.geom2 in floor:
            touches_ground = True
        else:
            touches_self = True
    cause = "ground" if touches_ground else "self only" if touches_self else "unclear"
    return cause, pairs


def _policy(kind: str, task: Any, checkpoint: str, config: dict[str, Any]) -> Any:
    generator = torch.Generator().manual_seed(0)
    actions = task.num_actions
    if kind == "zero":
        return lambda obs: torch.zeros((obs.shape[0], actions))
    if kind == "init":
        return lambda obs: INITIAL_SIGMA * torch.randn((obs.shape[0], actions), generator=generator)
    from isaacgymenvs.eval.__main__ import _policy_from_checkpoint

    return _policy_from_checkpoint(config, task, checkpoint)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m isaacgymenvs.bench terminations", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--policy", choices=("zero", "init", "checkpoint"), default="init")
    parser.add_argument("--checkpoint", default="", help="with --policy checkpoint")
    parser.add_argument("--steps", type=int, default=300, help="control steps to run (default 300)")
    parser.add_argument("--envs", type=int, default=256, help="environments (default 256)")
    parser.add_argument("overrides", nargs="*", help="config overrides (task.env.motion_file=..., ...)")
    args = parser.parse_args(argv)

    from isaacgymenvs.launcher import _resolve, compose
    from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

    overrides = [*args.overrides, f"num_envs={args.envs}"]
    if args.checkpoint:
        overrides.append(f"checkpoint={args.checkpoint}")
    config = _resolve(compose([*overrides, "test=True"]))
    task = HumanoidAMP(cfg=config["task"], rl_device="cpu", sim_device="cpu")
    policy = _policy(args.policy, task, args.checkpoint, config)
    backend = task.backend
    model = backend.model
    data = mujoco.MjData(model)
    engine_body = {index: int(body) for index, body in enumerate(backend._body_ids)}
    causes: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    lengths: list[int] = []
    task.reset_buf[:] = 1
    for _ in range(args.steps):
        obs_dict, _ = task.reset_done()
        with torch.no_grad():
            actions = policy(obs_dict["obs"])
        _, _, _, infos = task.step(actions)
        terminated = infos["terminate"].bool()
        offending = offending_bodies(backend.contact_forces, task._contact_body_ids)
        for env in torch.nonzero(terminated).flatten().tolist():
            lengths.append(int(task.progress_buf[env]))
            bodies = {engine_body[index] for index in torch.nonzero(offending[env]).flatten().tolist()}
            cause, env_pairs = classify(model, data, backend.engine_qpos(env), bodies)
            causes[cause] += 1
            pairs.update(set(env_pairs))
    total = sum(causes.values())
    print(f"{total} terminations in {args.steps} steps of {args.envs} environments, policy {args.policy}")
    if total == 0:
        return
    print(f"mean length of the terminated episodes: {np.mean(lengths):.1f} steps")
    for cause in ("ground", "self only", "unclear"):
        print(f"  {cause:<10} {causes[cause]:>6}  {causes[cause] / total:6.1%}")
    print("contact pairs of offending bodies (share of terminations):")
    for (first, second), count in pairs.most_common(12):
        print(f"  {first} - {second}: {count / total:.1%}")
