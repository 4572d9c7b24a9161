"""Bad motion input: one clear line naming the file and the problem, a non-zero exit, nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT, reference_clip

from isaacgymenvs.motion.__main__ import main
from isaacgymenvs.motion.files import load_motion, load_motion_set, save_motion
from isaacgymenvs.motion.formats.poselib_npy import poselib_dict
from isaacgymenvs.motion.motion import MotionFileError


def _run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(args)
    captured = capsys.readouterr()
    return status, captured.err


def _assert_one_line_error(args: list[str], capsys: pytest.CaptureFixture[str], *fragments: str) -> None:
    status, err = _run_cli(args, capsys)
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _save_dict(path: Path, stored: dict) -> Path:
    payload = np.empty((), dtype=object)
    payload[()] = stored
    np.save(path, payload, allow_pickle=True)
    return path


@pytest.fixture()
def walk_dict() -> OrderedDict:
    return poselib_dict(load_motion("humanoid3d_walk"))


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _assert_one_line_error(
        ["info", str(tmp_path / "missing.npy")], capsys, "missing.npy", "not found", "humanoid3d_walk"
    )


def test_unknown_extension(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "clip.fbx").write_bytes(b"Kaydara FBX Binary")
    _assert_one_line_error(["info", str(tmp_path / "clip.fbx")], capsys, "clip.fbx", "unknown motion format '.fbx'")
    _assert_one_line_error(["convert", "humanoid3d_walk", str(tmp_path / "out.fbx")], capsys, "cannot write")


def test_truncated_and_corrupt_npy(capsys: pytest.CaptureFixture[str], tmp_path: Path, walk_dict: OrderedDict) -> None:
    whole = _save_dict(tmp_path / "whole.npy", walk_dict).read_bytes()
    (tmp_path / "truncated.npy").write_bytes(whole[: len(whole) // 2])
    _assert_one_line_error(["info", str(tmp_path / "truncated.npy")], capsys, "truncated.npy", "truncated or corrupt")
    (tmp_path / "noise.npy").write_bytes(os.urandom(500))
    _assert_one_line_error(["info", str(tmp_path / "noise.npy")], capsys, "noise.npy", "not a valid .npy")
    np.save(tmp_path / "plain.npy", np.zeros((3, 4)))
    _assert_one_line_error(["info", str(tmp_path / "plain.npy")], capsys, "plain.npy", "poselib motion")


def test_truncated_bvh_npz_and_txt(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    save_motion(load_motion("humanoid3d_walk"), tmp_path / "walk.bvh")
    text = (tmp_path / "walk.bvh").read_text()
    (tmp_path / "cut.bvh").write_text(text[: len(text) - 500])
    _assert_one_line_error(["info", str(tmp_path / "cut.bvh")], capsys, "cut.bvh", "expected 39 frames")
    (tmp_path / "cut_header.bvh").write_text(text[:300])
    _assert_one_line_error(["info", str(tmp_path / "cut_header.bvh")], capsys, "cut_header.bvh", "unexpected end")
    save_motion(load_motion("humanoid3d_walk"), tmp_path / "walk.npz")
    data = (tmp_path / "walk.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    _assert_one_line_error(["info", str(tmp_path / "cut.npz")], capsys, "cut.npz", "not a readable .npz")
    (tmp_path / "cut.txt").write_text('{"Loop": "wrap", "Frames": [[0.03, 1, 2')
    _assert_one_line_error(["info", str(tmp_path / "cut.txt")], capsys, "cut.txt", "invalid JSON")


def test_wrong_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path, walk_dict: OrderedDict) -> None:
    del walk_dict["rotation"]
    _save_dict(tmp_path / "nokey.npy", walk_dict)
    _assert_one_line_error(["info", str(tmp_path / "nokey.npy")], capsys, "nokey.npy", "missing keys ['rotation']")
    np.savez(tmp_path / "other.npz", joint_pos=np.zeros((3, 4)))
    _assert_one_line_error(["info", str(tmp_path / "other.npz")], capsys, "other.npz", "missing Isaac Lab")
    _save_dict(tmp_path / "state.npy", {**walk_dict, "__name__": "SkeletonState"})
    _assert_one_line_error(["info", str(tmp_path / "state.npy")], capsys, "state.npy", "single pose")


def test_nan_and_inf_values(capsys: pytest.CaptureFixture[str], tmp_path: Path, walk_dict: OrderedDict) -> None:
    walk_dict["root_translation"]["arr"][5, 1] = np.nan
    _save_dict(tmp_path / "nan.npy", walk_dict)
    _assert_one_line_error(["info", str(tmp_path / "nan.npy")], capsys, "nan.npy", "NaN or inf", "frame 5")
    save_motion(load_motion("humanoid3d_walk"), tmp_path / "walk.bvh")
    text = (tmp_path / "walk.bvh").read_text().replace("0.000000", "inf", 1)
    (tmp_path / "inf.bvh").write_text(text)
    status, err = _run_cli(["info", str(tmp_path / "inf.bvh")], capsys)
    assert status == 1 and "inf.bvh" in err and len(err.strip().splitlines()) == 1


def test_not_the_amp_humanoid(capsys: pytest.CaptureFixture[str], tmp_path: Path, walk_dict: OrderedDict) -> None:
    tree = walk_dict["skeleton_tree"]
    tree["node_names"] = ["Hips" if name == "pelvis" else name for name in tree["node_names"]]
    _save_dict(tmp_path / "renamed.npy", walk_dict)
    _assert_one_line_error(
        ["info", str(tmp_path / "renamed.npy")], capsys, "renamed.npy", "skeleton is not the AMP humanoid", "Hips"
    )
    tree["node_names"][0] = "pelvis"
    tree["local_translation"]["arr"] = tree["local_translation"]["arr"] * 1.2
    _save_dict(tmp_path / "tall.npy", walk_dict)
    _assert_one_line_error(["info", str(tmp_path / "tall.npy")], capsys, "tall.npy", "not the AMP humanoid", "offset")
    # A CMU-style BVH.
    (tmp_path / "cmu.bvh").write_text(
        "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Zrotation Xrotation "
        "Yrotation\n End Site\n {\n  OFFSET 0 1 0\n }\n}\nMOTION\nFrames: 2\n"
        "Frame Time: 0.1\n0 0 0\n0 0 0\n"
    )
    _assert_one_line_error(
        ["info", str(tmp_path / "cmu.bvh")], capsys, "cmu.bvh", "not the AMP humanoid", "found 1 joints (Hips)"
    )
    # Isaac Lab npz whose bodies have the right names but the wrong bone lengths.
    save_motion(load_motion("humanoid3d_walk"), tmp_path / "walk.npz")
    with np.load(tmp_path / "walk.npz") as data:
        fields = {name: data[name] for name in data.files}
    fields["body_positions"] = fields["body_positions"] * 1.5
    np.savez(tmp_path / "scaled.npz", **fields)
    _assert_one_line_error(["info", str(tmp_path / "scaled.npz")], capsys, "scaled.npz", "not the AMP humanoid")
    (tmp_path / "robot.txt").write_text('{"Loop": "wrap", "Frames": [[0.03, 1, 2, 3], [0.03, 1, 2, 3]]}')
    _assert_one_line_error(["info", str(tmp_path / "robot.txt")], capsys, "robot.txt", "not the AMP humanoid")


class _RunsCode:
    """An object whose unpickling would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_runs_code_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, walk_dict: OrderedDict
) -> None:
    marker = tmp_path / "pwned"
    walk_dict["fps"] = _RunsCode(marker)
    _save_dict(tmp_path / "evil.npy", walk_dict)
    # Plain numpy would run it (this is what the restricted reader protects against) ...
    np.load(tmp_path / "evil.npy", allow_pickle=True)
    assert marker.exists()
    marker.unlink()
    # ... ours refuses before building anything.
    _assert_one_line_error(["info", str(tmp_path / "evil.npy")], capsys, "evil.npy", "refused to load", "system")
    assert not marker.exists()


def test_motion_list_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    save_motion(load_motion("humanoid3d_walk"), tmp_path / "walk.npy")
    (tmp_path / "missing.yaml").write_text("motions:\n  - file: walk.npy\n    weight: 1\n  - file: gone.npy\n")
    _assert_one_line_error(["info", str(tmp_path / "missing.yaml")], capsys, "missing.yaml", "'gone.npy' not found")
    (tmp_path / "negative.yaml").write_text("motions:\n  - file: walk.npy\n    weight: -0.5\n")
    _assert_one_line_error(["info", str(tmp_path / "negative.yaml")], capsys, "negative.yaml", "weight must be", "-0.5")
    (tmp_path / "zero.yaml").write_text("motions:\n  - file: walk.npy\n    weight: 0\n")
    _assert_one_line_error(["info", str(tmp_path / "zero.yaml")], capsys, "zero.yaml", "all weights are zero")
    (tmp_path / "empty.yaml").write_text("clips: []\n")
    _assert_one_line_error(["info", str(tmp_path / "empty.yaml")], capsys, "empty.yaml", "'motions:'")
    (tmp_path / "broken.yaml").write_text("motions: [\n")
    _assert_one_line_error(["info", str(tmp_path / "broken.yaml")], capsys, "broken.yaml", "invalid YAML")


def test_motion_list_with_weights_and_builtin(tmp_path: Path) -> None:
    save_motion(load_motion("humanoid3d_walk"), tmp_path / "walk.bvh")
    (tmp_path / "mix.yaml").write_text(
        "motions:\n  - file: walk.bvh\n    weight: 2\n  - file: humanoid3d_run\n    weight: 1\n"
    )
    entries = load_motion_set(tmp_path / "mix.yaml")
    assert [entry.weight for entry in entries] == [2.0, 1.0]
    assert entries[1].motion.num_frames == 25


def test_failed_write_leaves_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _assert_one_line_error(
        ["convert", "humanoid3d_walk", str(tmp_path / "no" / "such" / "dir.npy")], capsys, "does not exist"
    )
    # An exception in the middle of a write removes the partial file and keeps an older one intact.
    target = tmp_path / "keep.npy"
    target.write_bytes(b"old")
    broken = load_motion("humanoid3d_walk").with_velocities()
    broken.local_rotation = "not a tensor"  # fails inside the writer, after the temporary file exists
    with pytest.raises(AttributeError):
        save_motion(broken, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.npy"]


def test_unwritable_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        _assert_one_line_error(["convert", "humanoid3d_walk", str(folder / "walk.npz")], capsys, "cannot write")
    finally:
        folder.chmod(0o700)


def test_cli_exit_status_in_a_subprocess(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "isaacgymenvs.motion", "info", str(tmp_path / "nope.bvh")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error:") and "nope.bvh" in result.stderr
    assert "Traceback" not in result.stderr


def test_library_errors_are_motion_file_errors(tmp_path: Path) -> None:
    from isaacgymenvs.tasks.amp.utils_amp.motion_lib import MotionLib

    with pytest.raises(MotionFileError, match="no_such_clip"):
        MotionLib("no_such_clip.npy", 28, [5, 8, 11, 14], "cpu")
    reference_clip("walk")  # the rest needs nothing from ../shared, but keep the skip message uniform
