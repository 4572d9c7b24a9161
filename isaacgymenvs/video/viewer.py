"""Kinematic playback of motion files: an mp4, or a contact sheet (a strip of poses over time) as a PNG.

No physics: each frame puts the MuJoCo model in the clip's pose (root position and rotation, the three hinges of every
3-DOF joint from its rotation, the knees and elbows from their angles) and renders it. Two motions (e.g. a reference
clip and a policy's exported motion) are drawn side by side, each followed by its own camera, resampled to a common
frame rate; a looping clip repeats, any other motion is padded with its last pose. ``--start``/``--seconds`` pick a
window.

    python -m isaacgymenvs.motion view humanoid3d_walk --out walk.mp4
    python -m isaacgymenvs.motion view humanoid3d_run runs/x/motions/test-000.npz --out cmp.png --start 5 --seconds 1
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from isaacgymenvs.motion.motion import Motion, MotionFileError
from isaacgymenvs.motion.skeleton import AMP_JOINT_LAYOUT, local_rotation_to_dof_pos
from isaacgymenvs.utils import rotations as rot

VIDEO_FPS = 30.0
SHEET_POSES = 8
SHEET_CAMERA_DISTANCE = 2.8  # m


def sample_motion(motion: Motion, times: np.ndarray, loop: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Root positions ``[T, 3]`` and local rotations ``[T, J, 4]`` at ``times`` (s), blended between frames.

    Past the ends the clip holds its first or last pose; with ``loop`` (for cyclic clips) it repeats instead, each cycle
    carried on by the clip's horizontal root displacement, so a looping run keeps running."""
    times = np.asarray(times, dtype=np.float64)
    offset = torch.zeros(len(times), 3, dtype=torch.float64)
    if loop and motion.num_frames > 1:
        cycles = np.floor(times / motion.duration)
        times = times - cycles * motion.duration
        displacement = motion.root_translation[-1] - motion.root_translation[0]
        displacement[2] = 0.0
        offset = torch.from_numpy(cycles)[:, None] * displacement
    position = np.clip(times * motion.fps, 0.0, motion.num_frames - 1)
    frame0 = np.floor(position).astype(np.int64)
    frame1 = np.minimum(frame0 + 1, motion.num_frames - 1)
    blend = torch.from_numpy(position - frame0)
    root = torch.lerp(motion.root_translation[frame0], motion.root_translation[frame1], blend[:, None]) + offset
    local = rot.slerp(motion.local_rotation[frame0], motion.local_rotation[frame1], blend[:, None, None])
    return root, local


def motion_qpos(motion: Motion, times: np.ndarray, model: object) -> np.ndarray:
    """MuJoCo ``qpos`` ``[T, nq]`` of ``motion`` at ``times`` for the humanoid model (joints found by name)."""
    import mujoco

    from isaacgymenvs.physics.joint_mapping import HingeJointMap

    joint_ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name) for name in AMP_JOINT_LAYOUT.dof_names]
    ranges = torch.from_numpy(model.jnt_range[joint_ids].copy())
    joint_map = HingeJointMap(AMP_JOINT_LAYOUT, ranges[:, 0], ranges[:, 1])
    root, local = sample_motion(motion, times, loop=motion.loop)
    hinges = joint_map.dof_pos_to_hinges(local_rotation_to_dof_pos(local))
    qpos = np.zeros((len(times), model.nq))
    root_joint = model.body("pelvis").jntadr[0]
    start = model.jnt_qposadr[root_joint]
    qpos[:, start : start + 3] = root.numpy()
    qpos[:, start + 3 : start + 7] = rot.quat_xyzw_to_wxyz(local[:, 0]).numpy()
    qpos[:, model.jnt_qposadr[joint_ids]] = hinges.numpy()
    return qpos


def render_motions(
    motions: list[Motion],
    output: str | Path,
    width: int = 640,
    height: int = 480,
    fps: float = VIDEO_FPS,
    poses: int = SHEET_POSES,
    start: float = 0.0,
    seconds: float | None = None,
) -> Path:
    """Render ``motions`` (one or two) to ``output``: ``.mp4`` (playback) or ``.png`` (contact sheet), over the window
    from ``start`` for ``seconds`` (default: to the end of the longest motion; looping clips repeat, others hold their
    last pose).

    Raises:
        MotionFileError: an output format other than .mp4/.png, or a folder that does not exist.
        isaacgymenvs.video.rendering.RenderingUnavailableError: no OpenGL platform.
    """
    from isaacgymenvs.video.rendering import HumanoidRenderer, write_image, write_video

    output = Path(output)
    extension = output.suffix.lower()
    if extension not in (".mp4", ".png"):
        raise MotionFileError(output, f"unknown output format {extension or '(none)'!r}; use .mp4 or .png")
    if not output.parent.is_dir():
        raise MotionFileError(output, f"cannot write: folder {str(output.parent)!r} does not exist")
    if not 1 <= len(motions) <= 2:
        raise ValueError("view takes one or two motions")
    if extension == ".png":  # narrower, closer panels for a strip of poses
        renderer = HumanoidRenderer(width=width // 2, height=height, distance=SHEET_CAMERA_DISTANCE)
    else:
        renderer = HumanoidRenderer(width=width, height=height)
    if start < 0 or (seconds is not None and seconds <= 0):
        raise MotionFileError(output, f"the window must start at >= 0 s and last > 0 s, not {start} s for {seconds} s")
    end = start + seconds if seconds is not None else max(motion.duration for motion in motions)
    # Playback at a fixed rate, or a few poses spread over the window for a contact sheet.
    times = np.arange(start, end + 1e-9, 1.0 / fps) if extension == ".mp4" else np.linspace(start, end, poses)
    panels = [renderer.render_sequence(motion_qpos(motion, times, renderer.model)) for motion in motions]
    renderer.close()
    frames = np.concatenate(panels, axis=2)  # side by side
    if extension == ".mp4":
        write_video(frames, output, fps)
    else:
        # Poses left to right, one row per motion: [rows * H, poses * W, 3].
        rows = [np.concatenate(list(panel), axis=1) for panel in panels]
        write_image(np.concatenate(rows, axis=0), output)
    return output
