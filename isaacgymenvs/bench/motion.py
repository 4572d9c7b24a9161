"""Benchmark of ``MotionLib.get_motion_state`` against the original's approach, measured in the same run.

The original library kept clips as separate objects and, on every call, looped over the distinct clip ids in the batch,
computed each clip's samples with NumPy/CPU tensors, converted each joint group's rotation in a Python loop, then copied
the results into new tensors. ``per_clip_loop_state`` below re-creates that approach (our code, same work) so both are
timed on the same machine, samples and clips. The flat library does a handful of gathers for any number of clips.

    python -m isaacgymenvs.bench motion [--samples 4096] [--repeats 30]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import torch

from isaacgymenvs.bench.timing import machine_description, median_seconds
from isaacgymenvs.motion.builtin import builtin_clip_names
from isaacgymenvs.motion.files import load_motion
from isaacgymenvs.motion.skeleton import AMP_JOINT_LAYOUT, compute_dof_velocities
from isaacgymenvs.tasks.amp.utils_amp.motion_lib import MotionLib
from isaacgymenvs.utils import rotations as rot

KEY_BODY_IDS = [5, 8, 11, 14]


@dataclass
class _Clip:
    """One clip's per-frame arrays as the original kept them (NumPy, float32)."""

    fps: float
    num_frames: int
    length: float
    root_pos: np.ndarray
    root_rot: np.ndarray
    local_rot: np.ndarray
    key_pos: np.ndarray
    root_vel: np.ndarray
    root_ang_vel: np.ndarray
    dof_vel: np.ndarray


def _clip_arrays(name: str) -> _Clip:
    motion = load_motion(name).with_velocities()
    return _Clip(
        fps=motion.fps,
        num_frames=motion.num_frames,
        length=motion.duration,
        root_pos=motion.global_translation[:, 0].float().numpy(),
        root_rot=motion.global_rotation[:, 0].float().numpy(),
        local_rot=motion.local_rotation.float().numpy(),
        key_pos=motion.global_translation[:, KEY_BODY_IDS].float().numpy(),
        root_vel=motion.global_velocity[:, 0].float().numpy(),
        root_ang_vel=motion.global_angular_velocity[:, 0].float().numpy(),
        dof_vel=compute_dof_velocities(motion.local_rotation, motion.fps).float().numpy(),
    )


def per_clip_loop_state(clips: list[_Clip], motion_ids: np.ndarray, motion_times: np.ndarray) -> tuple:
    """The original's way: NumPy buffers, a loop over distinct clips, a loop over joint groups, then tensors."""
    n = len(motion_ids)
    root_pos = np.empty((n, 3))
    root_rot = np.empty((n, 4))
    local_rot = np.empty((n, clips[0].local_rot.shape[1], 4))
    key_pos = np.empty((n, len(KEY_BODY_IDS), 3))
    root_vel = np.empty((n, 3))
    root_ang_vel = np.empty((n, 3))
    dof_vel = np.empty((n, AMP_JOINT_LAYOUT.num_dofs))
    for uid in np.unique(motion_ids):
        mask = motion_ids == uid
        clip = clips[uid]
        times = motion_times[mask]
        phase = np.clip(times / clip.length, 0.0, 1.0)
        frame0 = (phase * (clip.num_frames - 1)).astype(int)
        frame1 = np.minimum(frame0 + 1, clip.num_frames - 1)
        blend = ((times - frame0 / clip.fps) * clip.fps)[:, None]
        root_pos[mask] = (1 - blend) * clip.root_pos[frame0] + blend * clip.root_pos[frame1]
        key_pos[mask] = (1 - blend[:, None]) * clip.key_pos[frame0] + blend[:, None] * clip.key_pos[frame1]
        blend_t = torch.from_numpy(blend)
        root_rot[mask] = rot.slerp(
            torch.from_numpy(clip.root_rot[frame0]).double(), torch.from_numpy(clip.root_rot[frame1]).double(), blend_t
        ).numpy()
        local_rot[mask] = rot.slerp(
            torch.from_numpy(clip.local_rot[frame0]).double(),
            torch.from_numpy(clip.local_rot[frame1]).double(),
            blend_t[:, None],
        ).numpy()
        root_vel[mask] = clip.root_vel[frame0]
        root_ang_vel[mask] = clip.root_ang_vel[frame0]
        dof_vel[mask] = clip.dof_vel[frame0]
    dof_pos = np.empty((n, AMP_JOINT_LAYOUT.num_dofs))
    local_tensor = torch.from_numpy(local_rot)
    for group in AMP_JOINT_LAYOUT.groups:  # per joint, as the original's _local_rotation_to_dof
        body = AMP_JOINT_LAYOUT.skeleton.index(group.body)
        exp_map = rot.quat_to_exp_map(local_tensor[:, body]).numpy()
        if group.hinge_axis is None:
            dof_pos[:, group.dof_offset : group.dof_offset + 3] = exp_map
        else:
            dof_pos[:, group.dof_offset] = exp_map @ np.asarray(group.hinge_axis)
    return tuple(
        torch.tensor(a, dtype=torch.float32)
        for a in (root_pos, root_rot, dof_pos, root_vel, root_ang_vel, dof_vel, key_pos)
    )


def _measure(clip_names: list[str], samples: int, repeats: int) -> tuple[float, float]:
    """Median seconds of the per-clip loop and of the flat library for one set of clips."""
    distinct = list(dict.fromkeys(clip_names))
    arrays = {name: _clip_arrays(name) for name in distinct}
    clips = [arrays[name] for name in clip_names]
    library = _library(clip_names)
    generator = np.random.default_rng(0)
    motion_ids = generator.integers(0, len(clip_names), samples)
    motion_times = generator.uniform(0, 1, samples) * np.array([clips[i].length for i in motion_ids])
    ids_tensor, times_tensor = torch.from_numpy(motion_ids), torch.from_numpy(motion_times)
    # Same answers (float32 tolerance) before trusting the timing.
    for ours, theirs in zip(
        library.get_motion_state(ids_tensor, times_tensor),
        per_clip_loop_state(clips, motion_ids, motion_times),
        strict=True,
    ):
        assert torch.allclose(ours, theirs, atol=1e-3), "the two implementations disagree"
    loop = median_seconds(lambda: per_clip_loop_state(clips, motion_ids, motion_times), repeats)
    flat = median_seconds(lambda: library.get_motion_state(ids_tensor, times_tensor), repeats)
    return loop, flat


def run(samples: int, repeats: int) -> list[dict[str, float | int | str]]:
    rows = []
    names = builtin_clip_names()
    for label, clip_names in (
        ("1 clip (walk)", ["humanoid3d_walk"]),
        (f"{len(names)} clips (all built-in)", names),
        (f"{4 * len(names)} clips (built-in x4)", names * 4),
    ):
        loop, flat = _measure(clip_names, samples, repeats)
        rows.append(
            {
                "clips": label,
                "samples": samples,
                "per_clip_loop_ms": loop * 1e3,
                "flat_ms": flat * 1e3,
                "speedup": loop / flat,
            }
        )
    return rows


def _library(clip_names: list[str]) -> MotionLib:
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="motion_bench_"))
    entries = "".join(f"  - file: {name}\n    weight: 1\n" for name in clip_names)
    (folder / "clips.yaml").write_text(f"motions:\n{entries}")
    return MotionLib(folder / "clips.yaml", AMP_JOINT_LAYOUT.num_dofs, KEY_BODY_IDS, "cpu")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.bench motion", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    print(machine_description())
    print(f"get_motion_state, {args.samples} samples, median of {args.repeats} calls")
    print(f"{'clips':<28} {'per-clip loop (ms)':>19} {'flat library (ms)':>18} {'speed-up':>9}")
    for row in run(args.samples, args.repeats):
        print(f"{row['clips']:<28} {row['per_clip_loop_ms']:>19.2f} {row['flat_ms']:>18.2f} {row['speedup']:>8.1f}x")
