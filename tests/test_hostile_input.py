"""Malformed and hostile input through the real command lines (``python -m isaacgymenvs.motion``, ``launch.py``): each
kind ends with a non-zero exit, no traceback, one line naming the file or key and the problem, and no output left.

One case per kind goes through a subprocess, as a user would run it; its siblings (the same kind of input in another
reader, writer or option) are in ``test_hostile_siblings.py``. The limits themselves are in docs/limits.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import PROJECT_ROOT, SMALL_RUN, run_python

from isaacgymenvs.motion.__main__ import main as motion_main
from isaacgymenvs.motion.files import load_motion, save_motion
from isaacgymenvs.motion.limits import MAX_BVH_JOINTS


def _assert_refused(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Non-zero exit, no traceback, exactly one line on stderr, starting with ``error:`` and holding ``fragments``."""
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("error:"), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _motion_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return run_python(["-m", "isaacgymenvs.motion", *args], cwd)


def _launch(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return run_python([str(PROJECT_ROOT / "launch.py"), *args], cwd)


def _refused_in_process(capsys: pytest.CaptureFixture[str], args: list[str], *fragments: str) -> str:
    status = motion_main(args)
    err = capsys.readouterr().err
    return _assert_refused(subprocess.CompletedProcess(args, status, "", err), *fragments)


def _no_outputs(folder: Path, *expected: str) -> None:
    """Nothing but the ``expected`` inputs in ``folder``: no output file, no temporary, no run folder."""
    assert sorted(path.name for path in folder.iterdir()) == sorted(expected)


@pytest.fixture(scope="module")
def walk_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The walk clip as .npy, .npz and .bvh."""
    folder = tmp_path_factory.mktemp("walk")
    motion = load_motion("humanoid3d_walk")
    for extension in ("npy", "npz", "bvh"):
        save_motion(motion, folder / f"walk.{extension}")
    return folder


def _npz_fields(walk_files: Path) -> dict[str, np.ndarray]:
    with np.load(walk_files / "walk.npz") as archive:
        return {name: archive[name] for name in archive.files}


# --- 1: an Isaac Lab .npz whose dof_names disagree with its arrays ------------------------------------------------


def test_npz_whose_dof_names_disagree_with_the_arrays(walk_files: Path, tmp_path: Path) -> None:
    fields = _npz_fields(walk_files)
    fields["dof_names"] = fields["dof_names"][:3]
    np.savez(tmp_path / "dofs.npz", **fields)
    problem = "dof_names lists 3 names but dof_positions has 28 columns"
    _assert_refused(_motion_cli(["info", "dofs.npz"], tmp_path), "dofs.npz", problem)
    _assert_refused(_motion_cli(["convert", "dofs.npz", "out.npy"], tmp_path), "dofs.npz", problem)
    result = _launch([*SMALL_RUN, "task.env.motion_file=dofs.npz", "max_iterations=1"], tmp_path)
    _assert_refused(result, "dofs.npz", problem)
    _no_outputs(tmp_path, "dofs.npz")


# --- 2: config values out of range, and max_iterations=-1 -----------------------------------------------------------


def test_discount_above_one_is_refused(tmp_path: Path) -> None:
    result = _launch([*SMALL_RUN, "train.params.config.gamma=2"], tmp_path)
    _assert_refused(result, "train.params.config.gamma", "in [0, 1]", "got 2")
    _no_outputs(tmp_path)


def test_no_epoch_limit_is_said(tmp_path: Path) -> None:
    """``max_iterations=-1`` trains until stopped, as rl_games does; a note says so before anything is built."""
    command = [sys.executable, str(PROJECT_ROOT / "launch.py"), *SMALL_RUN, "max_iterations=-1", "experiment=endless"]
    with subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    ) as process:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("epoch 1 |"):  # no "/<max>" in the progress line
                process.send_signal(signal.SIGINT)
                break
        _, err = process.communicate(timeout=120)
    assert "note: max_iterations=-1: no epoch limit; training runs until stopped" in "".join(lines)
    assert process.returncode == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("stopped by SIGINT at epoch")


# --- 3: a run folder that cannot be created ----------------------------------------------------------------------


def test_run_folder_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("a file where the run folders go")
    result = _launch([*SMALL_RUN, "max_iterations=1"], tmp_path)
    _assert_refused(result, str(tmp_path / "runs"), "is not a folder, so the run folder runs/")
    _no_outputs(tmp_path, "runs")


def _without_write_permission() -> list[str] | None:
    """A command prefix under which folder permissions apply (root ignores them), or None when there is none."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    probe = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", "true"], capture_output=True)
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if probe.returncode == 0 else None


def test_unwritable_working_folder(tmp_path: Path) -> None:
    prefix = _without_write_permission()
    if prefix is None:
        pytest.skip("running as root without setpriv: folder permissions cannot be made to apply")
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = subprocess.run(
            [*prefix, sys.executable, str(PROJECT_ROOT / "launch.py"), *SMALL_RUN, "max_iterations=1"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )
        _assert_refused(result, str(folder), "not writable, so the run folder runs/")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


# --- 4: a .npy header that claims far more data than the file holds ---------------------------------------------


def _huge_header(handle: object) -> None:
    np.lib.format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})


def test_npy_header_claiming_terabytes(tmp_path: Path) -> None:
    with open(tmp_path / "huge.npy", "wb") as handle:
        _huge_header(handle)
        handle.write(b"\0" * 100)
    for args in (["info", "huge.npy"], ["convert", "huge.npy", "out.bvh"]):
        _assert_refused(_motion_cli(args, tmp_path), "huge.npy", "header declares 7.28 TiB", "the file holds 100 bytes")
    _no_outputs(tmp_path, "huge.npy")


# --- 5: BVH with a non-finite Frame Time, and with thousands of nested joints ---------------------------------------


def _nested_bvh(depth: int) -> str:
    lines = [
        "HIERARCHY",
        "ROOT pelvis",
        "{",
        "OFFSET 0 0 0",
        "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation",
    ]
    for index in range(depth):
        lines += [f"JOINT j{index}", "{", "OFFSET 0 1 0", "CHANNELS 3 Zrotation Xrotation Yrotation"]
    lines += ["}"] * (depth + 1)
    lines += ["MOTION", "Frames: 2", "Frame Time: 0.1"] + [" ".join(["0"] * (6 + 3 * depth))] * 2
    return "\n".join(lines) + "\n"


def test_bvh_with_nan_frame_time_and_deep_nesting(walk_files: Path, tmp_path: Path) -> None:
    text = (walk_files / "walk.bvh").read_text()
    frame_time = next(line for line in text.splitlines() if line.startswith("Frame Time:"))
    (tmp_path / "nan.bvh").write_text(text.replace(frame_time, "Frame Time: nan"))
    _assert_refused(_motion_cli(["convert", "nan.bvh", "out.npy"], tmp_path), "nan.bvh", "after 'Frame Time:'", "nan")
    (tmp_path / "deep.bvh").write_text(_nested_bvh(5000))
    _assert_refused(_motion_cli(["info", "deep.bvh"], tmp_path), "deep.bvh", f"more than {MAX_BVH_JOINTS} joints")
    _no_outputs(tmp_path, "nan.bvh", "deep.bvh")


# --- 6: a motion list with an infinite weight ----------------------------------------------------------------------


def test_motion_list_with_an_infinite_weight(walk_files: Path, tmp_path: Path) -> None:
    shutil.copy(walk_files / "walk.npy", tmp_path / "walk.npy")
    (tmp_path / "inf.yaml").write_text("motions:\n  - file: walk.npy\n    weight: .inf\n  - file: walk.npy\n")
    problem = "entry 1 ('walk.npy'): weight must be a finite number >= 0, found inf"
    _assert_refused(_motion_cli(["info", "inf.yaml"], tmp_path), "inf.yaml", problem)
    result = _launch([*SMALL_RUN, "task.env.motion_file=inf.yaml", "max_iterations=1"], tmp_path)
    _assert_refused(result, "inf.yaml", problem)
    _no_outputs(tmp_path, "walk.npy", "inf.yaml")


# --- 7: checkpoints: a pickle that would run code, an empty file, a truncated file ------------------------------------


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_errors(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    torch.save({"model": _RunsCode(marker), "epoch": 1}, tmp_path / "evil.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    torch.save({"model": {"w": torch.zeros(1000)}, "epoch": 1}, tmp_path / "whole.pth")
    whole = (tmp_path / "whole.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(whole[: len(whole) // 2])
    files = ["evil.pth", "empty.pth", "whole.pth", "cut.pth"]
    # Played (test=True) and resumed (training): the same one line, before anything is built or written.
    result = _launch([*SMALL_RUN, "test=True", "checkpoint=evil.pth"], tmp_path)
    line = _assert_refused(result, "evil.pth", "refused to load: it names posix.system")
    assert "weights_only" not in line
    assert not marker.exists()
    _assert_refused(_launch([*SMALL_RUN, "checkpoint=empty.pth"], tmp_path), "empty.pth", "the file is empty")
    _assert_refused(_launch([*SMALL_RUN, "checkpoint=cut.pth"], tmp_path), "cut.pth", "truncated or corrupt")
    _no_outputs(tmp_path, *files)


# --- 8: a BVH with wrong joint names --------------------------------------------------------------------------------


def test_bvh_with_wrong_joint_names(walk_files: Path, tmp_path: Path) -> None:
    text = (walk_files / "walk.bvh").read_text()
    (tmp_path / "names.bvh").write_text(text.replace("left_foot", "LeftFoot").replace("right_hand", "RightHand"))
    line = _assert_refused(_motion_cli(["convert", "names.bvh", "out.npz"], tmp_path), "names.bvh")
    assert "missing 'right_hand', 'left_foot'; unexpected 'RightHand', 'LeftFoot'" in line
    assert "pelvis" not in line  # the names that agree are not listed
    _no_outputs(tmp_path, "names.bvh")


# --- 9: output into a closed pipe -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "isaacgymenvs.motion", "info", "walk.npy"],
        ["-m", "isaacgymenvs.motion", "list"],
        [str(PROJECT_ROOT / "launch.py"), "--help"],
        [str(PROJECT_ROOT / "launch.py"), *SMALL_RUN, "max_iterations=1", "experiment=piped"],
    ],
    ids=["motion-info", "motion-list", "launch-help", "launch"],
)
def test_output_into_a_closed_pipe(walk_files: Path, command: list[str]) -> None:
    """``... | head -4`` when head has already gone: a quiet stop with 141 (128 + SIGPIPE), as other tools do."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        result = subprocess.run(
            [sys.executable, *command],
            cwd=walk_files,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=600,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )
    finally:
        os.close(write_end)
    assert result.returncode == 128 + signal.SIGPIPE, result.stderr[-3000:]
    assert result.stderr == "", result.stderr[-3000:]
    # A training run stops at its first line ("run folder: ..."), its folder made but no checkpoint begun.
    run = walk_files / "runs" / "piped"
    assert not run.exists() or not list((run / "nn").iterdir())
    shutil.rmtree(walk_files / "runs", ignore_errors=True)
