"""``compile_kernels``: each compiled kernel gives its eager function's results on the same inputs (slow: compiling
takes about a minute)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isaacgymenvs.tasks.amp.humanoid_amp_base import compute_humanoid_observations, compute_humanoid_reset
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

pytestmark = [pytest.mark.sim, pytest.mark.slow]


def _same(compiled: object, eager: object) -> None:
    compiled = compiled if isinstance(compiled, tuple) else (compiled,)
    eager = eager if isinstance(eager, tuple) else (eager,)
    for a, b in zip(compiled, eager, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4, rtol=1e-4)


def test_compiled_kernels_match_eager() -> None:
    task = HumanoidAMP(
        {"env": {"numEnvs": 32, "motion_file": "humanoid3d_walk"}, "sim": {"mujoco": {"compile_kernels": True}}},
        rl_device="cpu",
        sim_device="cpu",
    )
    torch.manual_seed(0)
    backend = task.backend
    for _ in range(5):
        task.reset_done()
        task.step(torch.rand(32, 28) * 2 - 1)
        qpos, qvel = (backend._float_planes(torch.from_numpy(array)) for array in (backend._qpos, backend._qvel))
        _same(backend._state_kernel(qpos, qvel), backend._engine_state(qpos, qvel))
        targets = torch.rand(32, 28) * 6 - 3
        hinge_planes = backend._hinge_pos.T
        _same(backend._target_kernel(targets, hinge_planes), backend._hinge_targets(targets, hinge_planes))
        args = (
            backend.root_states,
            backend.dof_pos,
            backend.dof_vel,
            backend.rigid_body_pos[:, task._key_body_ids],
            False,
            task.joint_layout,
        )
        _same(task._observation_kernel(*args), compute_humanoid_observations(*args))
        args = (
            task.reset_buf,
            task.progress_buf,
            backend.contact_forces,
            task._contact_body_ids,
            backend.rigid_body_pos,
            300,
            True,
            0.5,
        )
        _same(task._reset_kernel(*args), compute_humanoid_reset(*args))
        library = task.motion_lib
        frame0, frame1, blend = library._frame_blend(torch.zeros(7, dtype=torch.long), torch.rand(7))
        _same(library._blend_kernel(frame0, frame1, blend), library._blend(frame0, frame1, blend))
    assert all(kernel.enabled for kernel in (backend._state_kernel, task._observation_kernel))  # no fallback
