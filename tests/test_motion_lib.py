"""MotionLib: golden samples from the spec, sampling, blending, looping-free clamping, and vectorised-vs-loop checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import reference_clip, spec_file

from isaacgymenvs.motion.files import save_motion
from isaacgymenvs.motion.motion import Motion
from isaacgymenvs.motion.skeleton import AMP_HUMANOID, AMP_JOINT_LAYOUT, local_rotation_to_dof_pos
from isaacgymenvs.tasks.amp.utils_amp.motion_lib import MotionLib
from isaacgymenvs.utils import rotations as rot

KEY_BODY_IDS = [5, 8, 11, 14]
STATE_KEYS = ("root_pos", "root_rot", "dof_pos", "root_vel", "root_ang_vel", "dof_vel", "key_pos")


def _synthetic_motion(num_frames: int, fps: float, seed: int) -> Motion:
    """A random but smooth clip: joint rotations that drift, a root moving forward."""
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn(AMP_HUMANOID.num_bodies, 3, generator=generator, dtype=torch.float64) * 0.5
    drift = torch.randn(AMP_HUMANOID.num_bodies, 3, generator=generator, dtype=torch.float64) * 0.05
    steps = torch.arange(num_frames, dtype=torch.float64)[:, None, None]
    local = rot.exp_map_to_quat(start + steps * drift)
    root = torch.stack(
        [steps[:, 0, 0] * 0.02, torch.zeros(num_frames, dtype=torch.float64), 0.9 + 0.01 * torch.sin(steps[:, 0, 0])],
        dim=-1,
    )
    return Motion(AMP_HUMANOID, local, root, fps, name=f"synthetic{seed}")


@pytest.fixture(scope="module")
def two_clip_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[MotionLib, list[Motion]]:
    folder = tmp_path_factory.mktemp("clips")
    motions = [_synthetic_motion(11, 30.0, 1), _synthetic_motion(7, 16.0, 2)]
    for index, motion in enumerate(motions):
        save_motion(motion, folder / f"clip{index}.npy")
    (folder / "list.yaml").write_text(
        "motions:\n  - file: clip0.npy\n    weight: 3\n  - file: clip1.npy\n    weight: 1\n"
    )
    return MotionLib(folder / "list.yaml", 28, KEY_BODY_IDS, "cpu"), motions


def test_golden_samples_match_to_1e4() -> None:
    golden = json.loads(spec_file("golden_motion_samples.json").read_text())
    libraries: dict[str, MotionLib] = {}
    for sample in golden["samples"]:
        name = sample["motion"]
        if name not in libraries:
            libraries[name] = MotionLib(
                reference_clip(name.removeprefix("amp_humanoid_").removesuffix(".npy")), 28, KEY_BODY_IDS, "cpu"
            )
        library = libraries[name]
        assert library.get_total_length() == pytest.approx(sample["motion_length"], abs=1e-9)
        state = library.get_motion_state(np.array([0]), np.array([sample["time"]]))
        for key, value in zip(STATE_KEYS, state, strict=True):
            np.testing.assert_allclose(
                value.reshape(-1).numpy(),
                np.asarray(sample[key]).reshape(-1),
                atol=1e-4,
                err_msg=f"{name} t={sample['time']} {key}",
            )
        frame0, frame1, blend = library._frame_blend([0], [sample["time"]])
        assert (int(frame0), int(frame1)) == (sample["frame_idx0"], sample["frame_idx1"])
        if frame0 != frame1:
            assert float(blend) == pytest.approx(sample["blend"], abs=1e-5)


def test_lengths_and_weights(two_clip_library: tuple[MotionLib, list[Motion]]) -> None:
    library, _ = two_clip_library
    assert library.num_motions() == 2
    np.testing.assert_allclose(library.get_motion_length([0, 1]).numpy(), [10 / 30, 6 / 16])
    assert library.get_total_length() == pytest.approx(10 / 30 + 6 / 16)
    np.testing.assert_allclose(library.motion_weights.numpy(), [0.75, 0.25])
    torch.manual_seed(0)
    ids = library.sample_motions(40000)
    assert ids.dtype == torch.long and ids.shape == (40000,)
    assert float((ids == 0).float().mean()) == pytest.approx(0.75, abs=0.01)
    times = library.sample_time(ids)
    lengths = library.get_motion_length(ids)
    assert torch.all(times >= 0) and torch.all(times < lengths)
    truncated = library.sample_time(ids, truncate_time=0.1)
    assert torch.all(truncated < lengths - 0.1)
    with pytest.raises(ValueError):
        library.sample_time(ids, truncate_time=1.0)
    assert library.sample_motions(0).shape == (0,)


def test_frames_are_reproduced_exactly(two_clip_library: tuple[MotionLib, list[Motion]]) -> None:
    library, motions = two_clip_library
    for motion_id, motion in enumerate(motions):
        frames = torch.arange(motion.num_frames)
        state = library.get_motion_state(torch.full_like(frames, motion_id), frames.double() / motion.fps)
        root_pos, root_rot, dof_pos, *_, key_pos = state
        np.testing.assert_allclose(root_pos.numpy(), motion.root_translation.numpy(), atol=1e-6)
        assert torch.allclose(
            rot.quat_angle_between(root_rot.double(), motion.global_rotation[:, 0]),
            torch.zeros(1, dtype=torch.float64),
            atol=1e-5,
        )
        np.testing.assert_allclose(dof_pos.numpy(), local_rotation_to_dof_pos(motion.local_rotation).numpy(), atol=1e-5)
        np.testing.assert_allclose(key_pos.numpy(), motion.global_translation[:, KEY_BODY_IDS].numpy(), atol=1e-6)


def test_blending_is_lerp_and_slerp_and_times_clamp(two_clip_library: tuple[MotionLib, list[Motion]]) -> None:
    library, motions = two_clip_library
    motion = motions[0]
    # A quarter of the way from frame 3 to frame 4.
    root_pos, root_rot, *_ = library.get_motion_state([0], [3.25 / 30])
    expected = 0.75 * motion.root_translation[3] + 0.25 * motion.root_translation[4]
    np.testing.assert_allclose(root_pos[0].numpy(), expected.numpy(), atol=1e-6)
    expected_rot = rot.slerp(motion.global_rotation[3, 0], motion.global_rotation[4, 0], torch.tensor([0.25]).double())
    assert float(rot.quat_angle_between(root_rot[0].double(), expected_rot)) < 1e-5
    # Past the end the last frame holds; there is no looping.
    late = library.get_motion_state([0, 0], [motion.duration, motion.duration + 5.0])
    for value in late:
        np.testing.assert_allclose(value[0].numpy(), value[1].numpy(), atol=1e-6)
    # Before the start the blend goes negative and extrapolates from frames 0 and 1, as in the original.
    early_pos = library.get_motion_state([0], [-0.5 / 30])[0]
    extrapolated = 1.5 * motion.root_translation[0] - 0.5 * motion.root_translation[1]
    np.testing.assert_allclose(early_pos[0].numpy(), extrapolated.numpy(), atol=1e-6)


def test_velocities_come_from_frame_f0(two_clip_library: tuple[MotionLib, list[Motion]]) -> None:
    library, motions = two_clip_library
    motion = motions[1].with_velocities()
    _, _, _, root_vel, root_ang_vel, dof_vel, _ = library.get_motion_state([1, 1], [2.9 / 16, 2.0 / 16])
    np.testing.assert_allclose(root_vel[0].numpy(), root_vel[1].numpy())
    np.testing.assert_allclose(root_vel[1].numpy(), motion.global_velocity[2, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(root_ang_vel[1].numpy(), motion.global_angular_velocity[2, 0].numpy(), atol=1e-5)
    # Finite difference in the joint's own frame: the torso's increment between frames 2 and 3 times fps.
    increment = rot.quat_mul(rot.quat_conjugate(motion.local_rotation[2, 1]), motion.local_rotation[3, 1])
    np.testing.assert_allclose(dof_vel[1, 0:3].numpy(), (rot.quat_to_exp_map(increment) * 16).numpy(), atol=1e-4)


def test_vectorised_matches_per_sample_loop(two_clip_library: tuple[MotionLib, list[Motion]]) -> None:
    library, _ = two_clip_library
    torch.manual_seed(1)
    ids = library.sample_motions(257)
    times = library.sample_time(ids) * 1.2 - 0.05  # some before the start, some past the end
    batched = library.get_motion_state(ids, times)
    for index in range(0, 257, 16):
        single = library.get_motion_state(ids[index : index + 1], times[index : index + 1])
        for batch_value, single_value in zip(batched, single, strict=True):
            np.testing.assert_allclose(batch_value[index].numpy(), single_value[0].numpy(), atol=1e-6)


def test_accepts_numpy_lists_and_tensors(two_clip_library: tuple[MotionLib, list[Motion]]) -> None:
    library, _ = two_clip_library
    as_numpy = library.get_motion_state(np.array([0, 1]), np.array([0.1, 0.2]))
    as_list = library.get_motion_state([0, 1], [0.1, 0.2])
    as_tensor = library.get_motion_state(torch.tensor([0, 1]), torch.tensor([0.1, 0.2], dtype=torch.float32))
    for a, b, c in zip(as_numpy, as_list, as_tensor, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_allclose(a.numpy(), c.numpy(), atol=1e-5)
        assert a.dtype == torch.float32


def test_shapes_and_layout_checks(two_clip_library: tuple[MotionLib, list[Motion]]) -> None:
    library, _ = two_clip_library
    state = library.get_motion_state(torch.zeros(5, dtype=torch.long), torch.zeros(5))
    assert [tuple(v.shape) for v in state] == [(5, 3), (5, 4), (5, 28), (5, 3), (5, 3), (5, 28), (5, 4, 3)]
    assert AMP_JOINT_LAYOUT.dof_body_ids == [1, 2, 3, 4, 6, 7, 9, 10, 11, 12, 13, 14]
    assert AMP_JOINT_LAYOUT.dof_offsets == [0, 3, 6, 9, 10, 13, 14, 17, 18, 21, 24, 25, 28]
    with pytest.raises(ValueError, match="num_dofs"):
        MotionLib(library.motion_files[0], 27, KEY_BODY_IDS, "cpu")


def test_builtin_clip_by_name() -> None:
    library = MotionLib("humanoid3d_walk", 28, KEY_BODY_IDS, "cpu")
    assert library.num_motions() == 1
    assert library.get_total_length() == pytest.approx(38 / 30)
    assert Path(library.motion_files[0]).name == "humanoid3d_walk"


def test_ids_of_any_shape_give_the_rows_of_a_flat_query(two_clip_library: tuple[MotionLib, list[Motion]]) -> None:
    library, _ = two_clip_library
    ids = torch.tensor([[0, 1, 1], [1, 0, 0]])
    times = torch.tensor([[0.05, 0.1, 0.3], [0.0, 0.2, 0.33]], dtype=torch.float64)
    grid = library.get_motion_state(ids, times)
    flat = library.get_motion_state(ids.flatten(), times.flatten())
    for name, value, reference in zip(STATE_KEYS, grid, flat, strict=True):
        assert value.shape == (2, 3, *reference.shape[1:]), name
        assert torch.equal(value.flatten(0, 1), reference), name
    # One clip id and time give that state without a batch dimension, as plain indexing did (to float rounding:
    # torch's vectorised and scalar element-wise loops may round sines and arctangents differently).
    single = library.get_motion_state(torch.tensor(1), torch.tensor(0.1, dtype=torch.float64))
    for name, value, reference in zip(STATE_KEYS, single, flat, strict=True):
        torch.testing.assert_close(value, reference[1], rtol=0, atol=1e-6, msg=name)
    assert library.get_motion_length([[0], [1]]).shape == (2, 1)
    empty = library.get_motion_state(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.float64))
    for name, value, reference in zip(STATE_KEYS, empty, flat, strict=True):
        assert value.shape == (0, *reference.shape[1:]), name
