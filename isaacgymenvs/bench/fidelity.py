"""Physics fidelity: play a reference clip back through the PD servos and see how well the humanoid follows it.

Environments start in the clip's state at evenly spaced phases; every control step the action is the one whose PD
targets are the clip's DOF positions at that time (the clip loops). Nothing balances the character, so it eventually
falls; how long it stays up and how far its hands and feet drift from the clip's (relative to the root, in the heading
frame) measure how faithfully the simulated body reproduces the motion under the original's gains.

    python -m isaacgymenvs.bench fidelity [--clip humanoid3d_walk] [--envs 16] [--seconds 3]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from isaacgymenvs.bench.timing import machine_description
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP
from isaacgymenvs.utils import rotations as rot

REPORT_TIMES = (0.1, 0.25, 0.5, 1.0)


def _heading_frame(root_states: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Positions ``[N, K, 3]`` relative to the root, in the root's heading frame."""
    heading_inv = rot.calc_heading_quat_inv(root_states[:, 3:7]).unsqueeze(1).expand(-1, positions.shape[1], -1)
    return rot.quat_rotate(heading_inv, positions - root_states[:, None, 0:3])


def track_reference(clip: str, num_envs: int = 16, seconds: float = 3.0) -> dict[str, object]:
    """Play ``clip`` through the servos from ``num_envs`` phases for up to ``seconds``.

    Returns:
        ``fall_times`` (s, inf if still up), ``key_error`` ``[steps, num_envs]`` mean hand/foot error (m, NaN once
        fallen), ``dt`` (s per step).
    """
    task = HumanoidAMP(
        {"env": {"numEnvs": num_envs, "motion_file": clip, "stateInit": "Start"}, "sim": {}},
        rl_device="cpu",
        sim_device="cpu",
    )
    library = task.motion_lib
    length = library.get_total_length()
    motion_ids = torch.zeros(num_envs, dtype=torch.long)
    start = torch.arange(num_envs, dtype=torch.float64) / num_envs * length
    root_pos, root_rot, dof_pos, root_vel, root_ang_vel, dof_vel, _ = library.get_motion_state(motion_ids, start)
    env_ids = torch.arange(num_envs)
    task.backend.set_state(env_ids, torch.cat([root_pos, root_rot, root_vel, root_ang_vel], -1), dof_pos, dof_vel)
    task.backend.refresh()
    task.progress_buf[:] = 0
    task.reset_buf[:] = 0
    upright = torch.ones(num_envs, dtype=torch.bool)
    fall_times = torch.full((num_envs,), math.inf, dtype=torch.float64)
    errors = []
    for step in range(1, round(seconds / task.dt) + 1):
        times = (start + step * task.dt) % length
        root_pos, root_rot, dof_pos, root_vel, root_ang_vel, _, key_pos = library.get_motion_state(motion_ids, times)
        actions = ((dof_pos - task._pd_action_offset) / task._pd_action_scale).clamp(-1.0, 1.0)
        _, _, _, extras = task.step(actions)
        fallen = extras["terminate"].bool() & upright
        fall_times[fallen] = step * task.dt
        upright &= ~extras["terminate"].bool()
        simulated = _heading_frame(task.backend.root_states, task.backend.rigid_body_pos[:, task._key_body_ids])
        reference_root = torch.cat([root_pos, root_rot], dim=-1)
        reference = _heading_frame(reference_root, key_pos)
        error = (simulated - reference).norm(dim=-1).mean(dim=-1)
        errors.append(torch.where(upright, error, torch.full_like(error, math.nan)))
    task.close()
    return {"fall_times": fall_times.numpy(), "key_error": torch.stack(errors).numpy(), "dt": task.dt}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench fidelity", description=__doc__.splitlines()[0])
    parser.add_argument("--clip", action="append", help="clip(s) to play (default: the built-in walk and run)")
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    print(machine_description())
    header = " ".join(f"{'err@' + format(t, 'g') + 's':>9}" for t in REPORT_TIMES)
    print(f"{'clip':<28} {'up (median s)':>13} {'up (min s)':>10} {header}   (hand/foot error, m, envs still up)")
    for clip in args.clip or ["humanoid3d_walk", "humanoid3d_run"]:
        result = track_reference(clip, args.envs, args.seconds)
        falls, errors, dt = result["fall_times"], result["key_error"], result["dt"]
        cells = []
        for seconds in REPORT_TIMES:
            row = errors[min(round(seconds / dt) - 1, len(errors) - 1)]
            cells.append(f"{np.nanmean(row):>9.3f}" if np.isfinite(row).any() else f"{'fallen':>9}")
        print(f"{clip.split('/')[-1]:<28} {np.median(falls):>13.2f} {falls.min():>10.2f} {' '.join(cells)}")
