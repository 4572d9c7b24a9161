"""Motion file formats: round trips on the six reference clips, the original loader's view of our .npy, Isaac Lab's
field names, BVH units and channel orders, DeepMimic conversion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REFERENCE_CLIPS, reference_clip

from isaacgymenvs.motion.files import load_motion, save_motion
from isaacgymenvs.motion.formats.bvh import read_bvh
from isaacgymenvs.motion.formats.poselib_npy import read_npy_object
from isaacgymenvs.motion.motion import Motion
from isaacgymenvs.motion.skeleton import AMP_HUMANOID, AMP_JOINT_LAYOUT, local_rotation_to_dof_pos
from isaacgymenvs.utils import rotations as rot

POSITION_TOLERANCE = 1e-4  # m


def _max_position_error(a: Motion, b: Motion) -> float:
    assert a.num_frames == b.num_frames
    return float((a.global_translation - b.global_translation).abs().max())


@pytest.mark.parametrize("clip", REFERENCE_CLIPS)
def test_npy_npz_npy_round_trip(clip: str, tmp_path: Path) -> None:
    original = load_motion(reference_clip(clip))
    save_motion(original, tmp_path / "clip.npz")
    save_motion(load_motion(tmp_path / "clip.npz"), tmp_path / "back.npy")
    back = load_motion(tmp_path / "back.npy")
    assert _max_position_error(original, back) < POSITION_TOLERANCE
    assert back.fps == original.fps
    # Stored velocities survive too (they are written and read as fields, not recomputed).
    np.testing.assert_allclose(back.global_velocity.numpy(), original.global_velocity.numpy(), atol=1e-5)


@pytest.mark.parametrize("clip", REFERENCE_CLIPS)
def test_npy_bvh_npy_round_trip(clip: str, tmp_path: Path) -> None:
    original = load_motion(reference_clip(clip))
    save_motion(original, tmp_path / "clip.bvh")
    save_motion(load_motion(tmp_path / "clip.bvh"), tmp_path / "back.npy")
    back = load_motion(tmp_path / "back.npy")
    assert _max_position_error(original, back) < POSITION_TOLERANCE
    assert back.fps == original.fps


def test_written_npy_has_the_original_layout(tmp_path: Path) -> None:
    """What the original's ``SkeletonMotion.from_file`` reads: same keys in order, same leaf types and dtypes."""
    reference_path = reference_clip("walk")
    save_motion(load_motion(reference_path), tmp_path / "walk.npy")
    ours = np.load(tmp_path / "walk.npy", allow_pickle=True).item()
    theirs = np.load(reference_path, allow_pickle=True).item()
    assert list(ours) == list(theirs)
    assert list(ours["skeleton_tree"]) == list(theirs["skeleton_tree"])
    for key in ("rotation", "root_translation", "global_velocity", "global_angular_velocity"):
        assert set(ours[key]) == {"arr", "context"}
        assert ours[key]["arr"].dtype == theirs[key]["arr"].dtype
        assert ours[key]["arr"].shape == theirs[key]["arr"].shape
        assert ours[key]["context"] == theirs[key]["context"]
    for key in ("parent_indices", "local_translation"):
        assert ours["skeleton_tree"][key]["arr"].dtype == theirs["skeleton_tree"][key]["arr"].dtype
        np.testing.assert_allclose(ours["skeleton_tree"][key]["arr"], theirs["skeleton_tree"][key]["arr"], atol=1e-6)
    assert ours["skeleton_tree"]["node_names"] == theirs["skeleton_tree"]["node_names"]
    assert ours["is_local"] is True and ours["__name__"] == "SkeletonMotion"
    assert float(ours["fps"]) == float(theirs["fps"])
    np.testing.assert_allclose(ours["rotation"]["arr"], theirs["rotation"]["arr"], atol=1e-6)
    # The reader is safe but not stricter than numpy: it sees the same object.
    assert list(read_npy_object(tmp_path / "walk.npy")) == list(ours)


def test_npz_has_isaac_lab_fields(tmp_path: Path) -> None:
    motion = load_motion("humanoid3d_walk")
    save_motion(motion, tmp_path / "walk.npz")
    with np.load(tmp_path / "walk.npz") as data:
        fields = {name: data[name] for name in data.files}
    frames = motion.num_frames
    assert set(fields) == {
        "fps",
        "dof_names",
        "body_names",
        "dof_positions",
        "dof_velocities",
        "body_positions",
        "body_rotations",
        "body_linear_velocities",
        "body_angular_velocities",
    }
    assert fields["dof_names"].tolist() == list(AMP_JOINT_LAYOUT.dof_names)
    assert fields["body_names"].tolist() == list(AMP_HUMANOID.node_names)
    assert fields["dof_positions"].shape == fields["dof_velocities"].shape == (frames, 28)
    for name in ("body_positions", "body_linear_velocities", "body_angular_velocities"):
        assert fields[name].shape == (frames, 15, 3)
    assert fields["body_rotations"].shape == (frames, 15, 4)
    assert float(fields["fps"]) == 30.0
    # Rotations are w, x, y, z in the world frame.
    xyzw = rot.quat_wxyz_to_xyzw(torch.from_numpy(fields["body_rotations"]).double())
    assert float(rot.quat_angle_between(xyzw, motion.global_rotation).max()) < 1e-5
    np.testing.assert_allclose(
        fields["dof_positions"], local_rotation_to_dof_pos(motion.local_rotation).numpy(), atol=1e-6
    )


def test_npz_with_reordered_and_extra_bodies(tmp_path: Path) -> None:
    motion = load_motion("humanoid3d_run")
    save_motion(motion, tmp_path / "run.npz")
    with np.load(tmp_path / "run.npz") as data:
        fields = {name: data[name] for name in data.files}
    order = np.random.default_rng(0).permutation(15)
    for name in ("body_positions", "body_rotations", "body_linear_velocities", "body_angular_velocities"):
        extra = fields[name][:, :1]
        fields[name] = np.concatenate([fields[name][:, order], extra], axis=1)
    fields["body_names"] = np.array([*fields["body_names"][order].tolist(), "marker"])
    np.savez(tmp_path / "shuffled.npz", **fields)
    assert _max_position_error(motion, load_motion(tmp_path / "shuffled.npz")) < 1e-5


def test_bvh_in_centimetres_with_other_channel_order(tmp_path: Path) -> None:
    motion = load_motion("humanoid3d_jump")
    save_motion(motion, tmp_path / "jump.bvh")
    text = (tmp_path / "jump.bvh").read_text()
    header, data = text.split("MOTION\n")
    # Rewrite in centimetres with X Y Z rotation channels, as another tool might.
    lines = []
    for line in header.splitlines():
        stripped = line.strip()
        if stripped.startswith("OFFSET"):
            values = [float(v) * 100 for v in stripped.split()[1:]]
            line = line[: line.index("OFFSET")] + "OFFSET " + " ".join(f"{v:.6f}" for v in values)
        lines.append(line.replace("Zrotation Xrotation Yrotation", "Xrotation Yrotation Zrotation"))
    rows = data.splitlines()
    frames = np.array([[float(v) for v in row.split()] for row in rows[2:]])
    angles = torch.from_numpy(np.radians(frames[:, 3:].reshape(len(frames), -1, 3)))
    xyz = np.degrees(rot.quat_to_euler(rot.quat_from_euler(angles, "ZXY"), "XYZ").numpy()).reshape(len(frames), -1)
    frames = np.concatenate([frames[:, :3] * 100, xyz], axis=1)
    body = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in frames)
    (tmp_path / "jump_cm.bvh").write_text("\n".join(lines) + "\nMOTION\n" + "\n".join(rows[:2]) + "\n" + body + "\n")
    converted = load_motion(tmp_path / "jump_cm.bvh")
    assert _max_position_error(read_bvh(tmp_path / "jump.bvh"), converted) < POSITION_TOLERANCE


def test_bvh_is_y_up_with_end_sites(tmp_path: Path) -> None:
    motion = load_motion("humanoid3d_walk")
    save_motion(motion, tmp_path / "walk.bvh")
    text = (tmp_path / "walk.bvh").read_text()
    assert text.startswith("HIERARCHY\nROOT pelvis\n")
    assert text.count("End Site") == 5
    assert text.count("JOINT ") == 14
    first_frame = [float(v) for v in text.split("Frame Time:")[1].splitlines()[1].split()]
    assert first_frame[1] == pytest.approx(float(motion.root_translation[0, 2]), abs=1e-6)  # height is Y


def test_deepmimic_conversion_conventions() -> None:
    """Hand-checked: DeepMimic y-up positions map to (x, -z, y); hinge angles change sign."""
    from isaacgymenvs.motion.builtin import builtin_clip_path

    path = builtin_clip_path("humanoid3d_walk")
    frames = np.array(json.loads(path.read_text())["Frames"])
    motion = load_motion("humanoid3d_walk")
    np.testing.assert_allclose(motion.root_translation[0].numpy(), [frames[0, 1], -frames[0, 3], frames[0, 2]])
    right_knee = AMP_JOINT_LAYOUT.dof_names.index("right_knee")
    dof_pos = local_rotation_to_dof_pos(motion.local_rotation)
    np.testing.assert_allclose(
        dof_pos[:, right_knee].numpy(), -frames[:, 20], atol=1e-9
    )  # column 20: after duration, root (7), chest, neck, hip
    # Knees bend forward (positive), elbows backward (negative), as in the AMP humanoid's joint ranges.
    assert dof_pos[:, right_knee].min() >= 0
    assert dof_pos[:, AMP_JOINT_LAYOUT.dof_names.index("right_elbow")].max() <= 0
    assert motion.fps == 30.0 and motion.loop


def test_deepmimic_uneven_frame_durations_are_resampled() -> None:
    motion = load_motion("humanoid3d_roll")  # its frames last 1/60 s and 0.0327 s
    assert motion.fps == 60.0
    assert motion.duration == pytest.approx(2.0, abs=0.02)
    steps = (motion.root_translation[1:] - motion.root_translation[:-1]).norm(dim=-1)
    assert float(steps.max()) < 0.1
