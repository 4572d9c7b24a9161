"""``MotionLib``: the reference clips as flat device tensors, sampled and blended without Python loops.

Same public methods and semantics as the original's motion library (``../shared/spec/humanoid_amp_reference.md``
section 7): clips are sampled by weight, times uniformly over ``[0, length)`` with ``length = (num_frames - 1) / fps``;
a query at time ``t`` blends frames ``f0 = floor(clip(t / length, 0, 1) * (num_frames - 1))`` and
``f1 = min(f0 + 1, num_frames - 1)`` with the unclipped weight ``(t - f0 * dt) / dt`` (so ``t < 0`` extrapolates, as in
the original); positions are lerped, rotations slerped, DOF positions derived from the blended local rotations, and
root and DOF velocities taken from frame ``f0``. DOF velocities are computed once at load time from consecutive frames.

Inside, every clip's frames are concatenated into ``[total_frames, ...]`` tensors with per-clip ``start``,
``num_frames``, ``fps`` and ``weights``; ``get_motion_state`` is a handful of gathers. Motion ids and times may be numpy
arrays, lists or tensors on any device.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from isaacgymenvs.motion.files import MOTION_ASSET_FOLDER, load_motion_set
from isaacgymenvs.motion.motion import Motion, MotionFileError
from isaacgymenvs.motion.skeleton import (
    AMP_JOINT_LAYOUT,
    JointLayout,
    compute_dof_velocities,
    skeleton_mismatch,
)
from isaacgymenvs.physics import kinematics as kin
from isaacgymenvs.utils import rotations as rot
from isaacgymenvs.utils.kernels import Kernel

ArrayLike = torch.Tensor | np.ndarray | Sequence[float] | float


class MotionLib:
    """Reference motions for state initialisation and AMP demonstrations.

    Args:
        motion_file: a motion file, a ``.yaml`` motion list or a built-in clip name (see
            :func:`isaacgymenvs.motion.files.resolve_motion_file`).
        num_dofs: DOFs of the simulated character (28 for the AMP humanoid); checked against the joint layout.
        key_body_ids: body indices whose world positions ``get_motion_state`` returns (hands and feet: 5, 8, 11, 14).
        device: where the tensors live.
        joint_layout: how local rotations map to DOFs (the AMP humanoid's by default).
        search_folders: folders searched for relative ``motion_file`` names.
        compile_kernels: compile the blending maths with ``torch.compile`` (:mod:`isaacgymenvs.utils.kernels`).
    """

    def __init__(
        self,
        motion_file: str | Path,
        num_dofs: int,
        key_body_ids: Sequence[int] | np.ndarray | torch.Tensor,
        device: torch.device | str,
        *,
        joint_layout: JointLayout = AMP_JOINT_LAYOUT,
        search_folders: tuple[Path, ...] = (MOTION_ASSET_FOLDER,),
        compile_kernels: bool = False,
    ) -> None:
        if num_dofs != joint_layout.num_dofs:
            raise ValueError(f"num_dofs={num_dofs} does not match the joint layout's {joint_layout.num_dofs} DOFs")
        self._device = torch.device(device)
        self._layout = joint_layout
        self._key_body_ids = torch.as_tensor(np.asarray(key_body_ids), dtype=torch.long, device=self._device)
        entries = load_motion_set(motion_file, search_folders)
        self._motions: list[Motion] = [entry.motion for entry in entries]
        self._motion_files = [entry.source for entry in entries]
        for entry in entries:
            problem = skeleton_mismatch(entry.motion.skeleton, joint_layout.skeleton)
            if problem is not None:
                raise MotionFileError(entry.source, f"skeleton does not match the simulated character: {problem}")

        float64 = {"dtype": torch.float64, "device": self._device}
        num_frames = [motion.num_frames for motion in self._motions]
        self._motion_num_frames = torch.tensor(num_frames, dtype=torch.long, device=self._device)
        self._motion_fps = torch.tensor([motion.fps for motion in self._motions], **float64)
        self._motion_dt = 1.0 / self._motion_fps
        self._motion_lengths = (self._motion_num_frames - 1).to(torch.float64) * self._motion_dt
        weights = torch.tensor([entry.weight for entry in entries], **float64)
        if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()) or not float(weights.sum()) > 0:
            # load_motion_set refuses such lists already; sampling divides by the sum, so it is checked where it is used
            problem = f"clip weights must be finite, >= 0 and not all 0, got {weights.tolist()}"
            raise MotionFileError(motion_file, problem)
        self._motion_weights = weights / weights.sum()
        self._motion_start = torch.tensor(
            np.concatenate([[0], np.cumsum(num_frames)[:-1]]), dtype=torch.long, device=self._device
        )
        self._build_frame_tensors()
        self._blend_kernel = Kernel(self._blend, compile_kernels)

    def _build_frame_tensors(self) -> None:
        """Concatenate every clip's per-frame quantities into flat ``[total_frames, ...]`` float32 tensors."""
        per_clip: dict[str, list[torch.Tensor]] = {
            key: [] for key in ("root_pos", "root_rot", "local_rot", "key_pos", "root_vel", "root_ang_vel", "dof_vel")
        }
        key_ids = self._key_body_ids.cpu()
        for motion in self._motions:  # load time only
            motion = motion.with_velocities()
            per_clip["root_pos"].append(motion.global_translation[:, 0])
            per_clip["root_rot"].append(motion.global_rotation[:, 0])
            per_clip["local_rot"].append(motion.local_rotation)
            per_clip["key_pos"].append(motion.global_translation[:, key_ids])
            per_clip["root_vel"].append(motion.global_velocity[:, 0])
            per_clip["root_ang_vel"].append(motion.global_angular_velocity[:, 0])
            per_clip["dof_vel"].append(compute_dof_velocities(motion.local_rotation, motion.fps, self._layout))
        flat = {key: torch.cat(values).to(device=self._device, dtype=torch.float32) for key, values in per_clip.items()}
        self._frame_root_pos = flat["root_pos"]  # [F, 3] m
        self._frame_local_rot = flat["local_rot"]  # [F, J, 4]
        self._frame_key_pos = flat["key_pos"]  # [F, K, 3] m
        self._frame_root_vel = flat["root_vel"]  # [F, 3] m/s, world
        self._frame_root_ang_vel = flat["root_ang_vel"]  # [F, 3] rad/s, world
        self._frame_dof_vel = flat["dof_vel"]  # [F, D] rad/s
        # The blend's rotations in component planes (see physics.kinematics): the root's [4, F], and the jointed
        # bodies' [4, G, F] (the 3-DOF groups' bodies, then the hinges').
        index = self._layout.index_tensors(self._device)
        jointed = torch.cat([index["ball_bodies"], index["hinge_bodies"]])
        self._frame_root_rot_planes = flat["root_rot"].T.contiguous()  # [4, F] xyzw
        self._frame_joint_rot_planes = self._frame_local_rot.index_select(1, jointed).permute(2, 1, 0).contiguous()
        self._num_ball_groups = len(index["ball_bodies"])
        self._hinge_axes = index["hinge_axes"].to(torch.float32).T.unsqueeze(-1)  # [3, G1, 1]
        # DOF d is row dof_source[d] of the stacked rows (3-DOF groups' x, y, z in group order, then the hinges).
        self._dof_source = torch.argsort(torch.cat([index["ball_dofs"].reshape(-1), index["hinge_dofs"]]))

    # --- the original's public API --------------------------------------------------------------------------------

    def num_motions(self) -> int:
        return len(self._motions)

    def get_total_length(self) -> float:
        """Sum of all clip lengths (s)."""
        return float(self._motion_lengths.sum())

    def get_motion(self, motion_id: int) -> Motion:
        return self._motions[motion_id]

    def get_motion_length(self, motion_ids: ArrayLike) -> torch.Tensor:
        """Lengths (s, float64) ``[n]`` of the given clips."""
        return _rows(self._motion_lengths, self._as_ids(motion_ids))

    def sample_motions(self, n: int) -> torch.Tensor:
        """``n`` clip ids ``[n]`` drawn with replacement in proportion to the clips' weights."""
        if n <= 0:
            return torch.zeros(0, dtype=torch.long, device=self._device)
        return torch.multinomial(self._motion_weights, n, replacement=True)

    def sample_time(self, motion_ids: ArrayLike, truncate_time: float | None = None) -> torch.Tensor:
        """Uniform times (s, float64) ``[n]`` in ``[0, length - truncate_time)`` of the given clips."""
        ids = self._as_ids(motion_ids)
        length = _rows(self._motion_lengths, ids)
        if truncate_time is not None:
            if truncate_time < 0 or bool((length < truncate_time).any()):
                raise ValueError(f"truncate_time={truncate_time} must be >= 0 and at most the clips' lengths")
            length = length - truncate_time
        return torch.rand(ids.shape, dtype=torch.float64, device=self._device) * length

    def get_motion_state(
        self, motion_ids: ArrayLike, motion_times: ArrayLike
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The blended reference state of clips ``motion_ids`` ``[n]`` at times ``motion_times`` ``[n]`` (s).

        Returns:
            ``root_pos [n, 3]``, ``root_rot [n, 4]`` (xyzw), ``dof_pos [n, D]``, ``root_vel [n, 3]``,
            ``root_ang_vel [n, 3]`` (world frame), ``dof_vel [n, D]``, ``key_pos [n, K, 3]``; float32 on the device.
        """
        frame0, frame1, blend = torch.broadcast_tensors(*self._frame_blend(motion_ids, motion_times))
        state = self._blend_kernel(frame0.reshape(-1), frame1.reshape(-1), blend.reshape(-1))
        if frame0.dim() == 1:
            return state
        # ids of another shape (one clip, a grid): the flat query's rows in that shape
        return tuple(value.view((*frame0.shape, *value.shape[1:])) for value in state)

    def _blend(self, frame0: torch.Tensor, frame1: torch.Tensor, blend: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The blended state between global frames ``frame0`` and ``frame1`` ``[n]`` with weights ``blend`` ``[n]``.

        The rotations are slerped and converted to DOF positions in component planes (``[4, ...]``, frames last):
        the original's formulas written per component, on contiguous planes that eager torch runs faster on a CPU
        than the components of ``[..., 4]`` tensors (see :mod:`isaacgymenvs.physics.kinematics`).
        """
        blend_vec = blend.unsqueeze(-1)
        root_pos = torch.lerp(_rows(self._frame_root_pos, frame0), _rows(self._frame_root_pos, frame1), blend_vec)
        key_pos = torch.lerp(
            _rows(self._frame_key_pos, frame0), _rows(self._frame_key_pos, frame1), blend_vec.unsqueeze(-1)
        )
        root_rot = kin.slerp_planes(
            self._frame_root_rot_planes.index_select(1, frame0),
            self._frame_root_rot_planes.index_select(1, frame1),
            blend,
        )
        joint_rot = kin.slerp_planes(
            self._frame_joint_rot_planes.index_select(2, frame0),
            self._frame_joint_rot_planes.index_select(2, frame1),
            blend,
        )  # [4, G, n]
        return (
            root_pos,
            root_rot.T.contiguous(),
            self._dof_pos_from_planes(joint_rot),
            _rows(self._frame_root_vel, frame0),
            _rows(self._frame_root_ang_vel, frame0),
            _rows(self._frame_dof_vel, frame0),
            key_pos,
        )

    def _dof_pos_from_planes(self, joint_rot: torch.Tensor) -> torch.Tensor:
        """DOF positions ``[n, D]`` from the jointed bodies' local rotations ``[4, G, n]``
        (:func:`~isaacgymenvs.motion.skeleton.local_rotation_to_dof_pos`'s formulas)."""
        exp_map = kin.quat_to_exp_map_planes(joint_rot)  # [3, G, n]
        balls = exp_map[:, : self._num_ball_groups].transpose(0, 1).reshape(3 * self._num_ball_groups, -1)  # [3 G3, n]
        hinges = (exp_map[:, self._num_ball_groups :] * self._hinge_axes).sum(0)  # [G1, n]
        return torch.cat([balls, hinges]).T.index_select(1, self._dof_source)

    # --- beyond the original ------------------------------------------------------------------------------------

    def get_local_rotations(self, motion_ids: ArrayLike, motion_times: ArrayLike) -> torch.Tensor:
        """Blended local rotations ``[n, J, 4]`` (the root's entry is its world rotation)."""
        frame0, frame1, blend = self._frame_blend(motion_ids, motion_times)
        return rot.slerp(
            _rows(self._frame_local_rot, frame0), _rows(self._frame_local_rot, frame1), blend[..., None, None]
        )

    @property
    def motion_files(self) -> list[str]:
        """Where each clip came from (file path or built-in name)."""
        return list(self._motion_files)

    @property
    def motion_weights(self) -> torch.Tensor:
        """Normalised sampling probabilities ``[num_motions]``."""
        return self._motion_weights

    def _as_ids(self, motion_ids: ArrayLike) -> torch.Tensor:
        ids = torch.as_tensor(np.asarray(motion_ids) if not torch.is_tensor(motion_ids) else motion_ids)
        return ids.to(device=self._device, dtype=torch.long)

    def _frame_blend(
        self, motion_ids: ArrayLike, motion_times: ArrayLike
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Global frame indices ``f0``, ``f1`` ``[n]`` and float32 blend weights ``[n]`` (computed in float64)."""
        ids = self._as_ids(motion_ids)
        times = torch.as_tensor(np.asarray(motion_times) if not torch.is_tensor(motion_times) else motion_times)
        times = times.to(device=self._device, dtype=torch.float64)
        num_frames = _rows(self._motion_num_frames, ids)
        dt = _rows(self._motion_dt, ids)
        phase = (times / _rows(self._motion_lengths, ids)).clamp(0.0, 1.0)
        frame0 = (phase * (num_frames - 1)).floor().long()
        frame1 = torch.minimum(frame0 + 1, num_frames - 1)
        blend = ((times - frame0 * dt) / dt).to(torch.float32)
        # Past the last frame f0 == f1 and the (unclipped, possibly large) weight changes nothing; zero it so float32
        # rounding cannot creep in.
        blend = torch.where(frame1 == frame0, torch.zeros_like(blend), blend)
        start = _rows(self._motion_start, ids)
        return start + frame0, start + frame1, blend


def _rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` for an integer ``index`` of any shape, gathered with ``index_select``: the same rows as
    advanced indexing, with less overhead per call on the CPU."""
    return table.index_select(0, index.reshape(-1)).view((*index.shape, *table.shape[1:]))
