"""Malformed and hostile input through the real command lines (``python -m isaacgymenvs.motion``, ``launch.py``): each
kind ends with a non-zero exit, no traceback, one line naming the file or key and the problem, and no output left.

One case per kind goes through a subprocess, as a user would run it; its siblings (the same kind of input in another
reader, writer or option) go through the same entry points in this process, which is faster and checks the same
code. The limits themselves are in docs/limits.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import PROJECT_ROOT, SMALL_RUN, run_python

from isaacgymenvs.motion.__main__ import main as motion_main
from isaacgymenvs.motion.files import load_motion, save_motion
from isaacgymenvs.motion.limits import MAX_BVH_JOINTS, MAX_FRAMES, MAX_MOTION_FILE_BYTES


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


def test_npz_siblings(walk_files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fields = _npz_fields(walk_files)
    cases = {
        "velocities.npz": {"dof_velocities": fields["dof_velocities"][:, :5]},
        "frames.npz": {"dof_positions": fields["dof_positions"][:4]},
        "fps.npz": {"fps": np.array([30.0, 60.0])},
        "names.npz": {"body_names": np.zeros(15)},
        "twice.npz": {"body_names": np.array([*fields["body_names"][:-1], "pelvis"])},
        "complex.npz": {"body_positions": fields["body_positions"].astype(np.complex64)},
    }
    for name, changes in cases.items():
        np.savez(tmp_path / name, **{**fields, **changes})
        _refused_in_process(capsys, ["info", str(tmp_path / name)], name)
    line = _refused_in_process(capsys, ["info", str(tmp_path / "twice.npz")])
    assert "missing 'left_foot'" in line and "repeated 'pelvis'" in line
    np.savez(tmp_path / "pickled.npz", **fields, extra=np.array([{"a": 1}], dtype=object))
    _refused_in_process(capsys, ["info", str(tmp_path / "pickled.npz")], "pickled.npz", "refused to load", "extra")


# --- 2: config values out of range, and max_iterations=-1 -----------------------------------------------------------


def test_discount_above_one_is_refused(tmp_path: Path) -> None:
    result = _launch([*SMALL_RUN, "train.params.config.gamma=2"], tmp_path)
    _assert_refused(result, "train.params.config.gamma", "in [0, 1]", "got 2")
    _no_outputs(tmp_path)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("train.params.config.tau=1.5", "tau must be a finite number in [0, 1]"),
        ("train.params.config.gamma=nan", "gamma must be a finite number in [0, 1], got nan"),
        ("train.params.config.learning_rate=0", "learning_rate must be a finite number > 0"),
        ("train.params.config.e_clip=0", "e_clip must be a finite number > 0"),
        ("train.params.config.disc_coef=inf", "disc_coef must be a finite number >= 0, got inf"),
        ("train.params.config.amp_replay_keep_prob=2", "amp_replay_keep_prob must be a finite number in [0, 1]"),
        ("train.params.config.lr_schedule=adaptve", "lr_schedule must be one of"),
        ("train.params.config.normalize_input=3", "normalize_input must be true or false"),
        ("max_iterations=0", "max_epochs (max_iterations=) must be a positive integer, or -1 for no limit"),
        ("++train.params.config.max_frames=-5", "max_frames must be a positive integer, or -1"),
        ("train.params.config.amp_replay_buffer_size=1000000000", "amp_replay_buffer_size is too large"),
        ("num_envs=1000000000", "num_envs x train.params.config.horizon_length is too large"),
        ("task.sim.dt=inf", "task.sim.dt must be a finite number"),
        ("task.env.powerScale=nan", "task.env.powerScale must be a finite number"),
        ("task.sim.gravity=[0,0,nan]", "task.sim.gravity must be three finite numbers"),
        ("++task.env.clipActions=0", "task.env.clipActions must be > 0"),
        ("num_threads=100000", "num_threads (num_threads=) must be an integer from 0 to 1024"),
        ("train.params.network.mlp.units=[100000000,100000000]", "train.params.network.mlp.units is too large"),
        ("train.params.network.mlp.units=[-5]", "mlp.units must be a list of layer widths >= 1"),
        ("train.params.network.disc.units=abc", "disc.units must be a list of layer widths >= 1"),
        ("experiment=../../escape", "experiment must be a folder name"),
        ("experiment=a/b", "experiment must be a folder name"),
        ("train.params.config.player.games_num=abc", "player.games_num must be an integer >= 1"),
        ("train.params.config.player.deterministic=abc", "player.deterministic must be true or false"),
        ("sigma=abc", "sigma must be a finite number"),
        ("sigma=inf", "sigma must be a finite number"),
    ],
)
def test_config_value_siblings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, override: str, fragment: str
) -> None:
    from isaacgymenvs.launcher import main

    monkeypatch.chdir(tmp_path)  # the launcher writes runs/ into the working directory; nothing may appear there
    status = main([*SMALL_RUN, override])
    _assert_refused(subprocess.CompletedProcess([], status, "", capsys.readouterr().err), fragment)
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


def test_size_siblings(tmp_path: Path, capsys: pytest.CaptureFixture[str], walk_files: Path) -> None:
    # The same header inside an .npz member.
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive, archive.open("body_positions.npy", "w") as member:
        _huge_header(member)
    _refused_in_process(capsys, ["info", str(tmp_path / "huge.npz")], "huge.npz", "field 'body_positions' declares")
    # An archive whose members unpack to more than a motion file may hold (a zip bomb, without writing one).
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w") as archive:
        info = zipfile.ZipInfo("body_positions.npy")
        archive.writestr(info, b"")
    with open(tmp_path / "bomb.npz", "r+b") as handle:  # claim 4 GiB uncompressed in the central directory
        data = handle.read()
        directory = data.rfind(b"PK\x01\x02")
        handle.seek(directory + 24)
        handle.write((2**32 - 1).to_bytes(4, "little"))
    _refused_in_process(capsys, ["info", str(tmp_path / "bomb.npz")], "bomb.npz", "unpacks to 4 GiB")
    # A 13-byte pickle naming memo index 2**30: C's unpickler would size its memo table by it (16 GB).
    with open(tmp_path / "memo.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "|O", "fortran_order": False, "shape": ()})
        handle.write(b"\x80\x02Nr" + (2**30 - 1).to_bytes(4, "little") + b".")
    _refused_in_process(capsys, ["info", str(tmp_path / "memo.npy")], "memo.npy", "expected a poselib motion")
    # Files larger than any motion file may be (sparse: no disk used).
    for name in ("big.npy", "big.bvh", "big.txt", "big.npz"):
        with open(tmp_path / name, "wb") as handle:
            handle.truncate(MAX_MOTION_FILE_BYTES + 1)
        _refused_in_process(capsys, ["info", str(tmp_path / name)], name, "more than the 512 MiB allowed")
    with open(tmp_path / "big.yaml", "wb") as handle:
        handle.truncate(2**21)
    _refused_in_process(capsys, ["info", str(tmp_path / "big.yaml")], "big.yaml", "more than the 1 MiB allowed")
    # Clips longer than any clip may be, refused before their frames are read.
    text = (walk_files / "walk.bvh").read_text()
    (tmp_path / "long.bvh").write_text(text.replace("Frames: 39", f"Frames: {MAX_FRAMES + 1}"))
    _refused_in_process(capsys, ["info", str(tmp_path / "long.bvh")], "long.bvh", f"from 0 to {MAX_FRAMES}")
    # Frame durations of 1 ns and 1 s: resampling to the common 1 ns would make a billion frames.
    frames = [[duration] + [0.0] * 43 for duration in (1e-9, 1e-9, 1.0, 1e-9)]
    (tmp_path / "resampled.txt").write_text(json.dumps({"Frames": frames}))
    _refused_in_process(capsys, ["info", str(tmp_path / "resampled.txt")], "resampled.txt", "resample to")


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


def test_bvh_siblings(walk_files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Nesting deeper than Python's recursion limit, within the joint limit: parsed, then refused by name.
    (tmp_path / "nested.bvh").write_text(_nested_bvh(MAX_BVH_JOINTS - 1))
    _refused_in_process(capsys, ["info", str(tmp_path / "nested.bvh")], "nested.bvh", "found 1000 joints", "'j0'")
    text = (walk_files / "walk.bvh").read_text()
    frame_time = next(line for line in text.splitlines() if line.startswith("Frame Time:"))
    last_frame = text.splitlines()[-1]
    channels = len(last_frame.split())
    cases = {
        "inf_time.bvh": (frame_time, "Frame Time: inf", "after 'Frame Time:'"),
        "zero_time.bvh": (frame_time, "Frame Time: 0", "Frame Time must be positive"),
        "nan_frames.bvh": ("Frames: 39", "Frames: nan", "Frames: must be an integer"),
        "negative_frames.bvh": ("Frames: 39", "Frames: -3", "Frames: must be an integer"),
        "nan_channels.bvh": ("CHANNELS 3", "CHANNELS nan", "CHANNELS must be an integer"),
        "channel_name.bvh": ("Zrotation", "Wrotation", "unknown channel 'Wrotation'"),
        "nan_offset.bvh": ("OFFSET 0.000000", "OFFSET nan", "OFFSET value"),
        "nan_data.bvh": (last_frame, " ".join(["nan"] * channels), "NaN or inf"),
        "word_data.bvh": (last_frame, " ".join(["x"] * channels), "not numeric"),
    }
    for name, (old, new, fragment) in cases.items():
        assert old in text, old
        (tmp_path / name).write_text(text.replace(old, new, 1))
        _refused_in_process(capsys, ["info", str(tmp_path / name)], name, fragment)
    (tmp_path / "long_line.bvh").write_text("HIERARCHY " + "x" * 100_000)
    _refused_in_process(capsys, ["info", str(tmp_path / "long_line.bvh")], "long_line.bvh", "longer than 65536")
    (tmp_path / "binary.bvh").write_bytes(os.urandom(4096))
    _refused_in_process(capsys, ["info", str(tmp_path / "binary.bvh")], "binary.bvh")
    (tmp_path / "deep.txt").write_text('{"Frames": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _refused_in_process(capsys, ["info", str(tmp_path / "deep.txt")], "deep.txt")


# --- 6: a motion list with an infinite weight ----------------------------------------------------------------------


def test_motion_list_with_an_infinite_weight(walk_files: Path, tmp_path: Path) -> None:
    shutil.copy(walk_files / "walk.npy", tmp_path / "walk.npy")
    (tmp_path / "inf.yaml").write_text("motions:\n  - file: walk.npy\n    weight: .inf\n  - file: walk.npy\n")
    problem = "entry 1 ('walk.npy'): weight must be a finite number >= 0, found inf"
    _assert_refused(_motion_cli(["info", "inf.yaml"], tmp_path), "inf.yaml", problem)
    result = _launch([*SMALL_RUN, "task.env.motion_file=inf.yaml", "max_iterations=1"], tmp_path)
    _assert_refused(result, "inf.yaml", problem)
    _no_outputs(tmp_path, "walk.npy", "inf.yaml")


def test_motion_list_siblings(walk_files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(walk_files / "walk.npy", tmp_path / "walk.npy")
    cases = {
        "nan.yaml": ("motions:\n  - file: walk.npy\n    weight: .nan\n", "weight must be a finite number"),
        "overflow.yaml": (
            "motions:\n  - file: walk.npy\n    weight: 1.0e+308\n  - file: walk.npy\n    weight: 1.0e+308\n",
            "the weights add up to inf",
        ),
        "list_file.yaml": ("motions:\n  - file: [a, b]\n", "file must be a file name"),
        "text_weight.yaml": (
            "motions:\n  - file: walk.npy\n    weight: 1e3\n",
            "with a dot and a sign, 1.0e+3",
        ),
        "nested.yaml": ("motions: " + "[" * 5000 + "]" * 5000 + "\n", "nested.yaml"),
        "bomb.yaml": (
            "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            "motions:\n  - file: *d\n    weight: *d\n",
            "file must be a file name",
        ),
    }
    for name, (text, fragment) in cases.items():
        (tmp_path / name).write_text(text)
        line = _refused_in_process(capsys, ["info", str(tmp_path / name)], name, fragment)
        assert len(line) < 400, line  # a value quoted from the file is cut short


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


@pytest.mark.parametrize(
    ("state", "mode", "fragment"),
    [
        ({"model": 5}, "test=True", "is damaged: 'model' is not a set of named tensors"),
        ({"model": {"w": torch.full((3,), float("nan"))}}, "test=True", "model w holds NaN or inf"),
        ({"model": {}, "epoch": "abc"}, "test=True", "'epoch' must be a count >= 0"),
        ({"model": {}, "optimizer": {"x": 1}}, "test=False", "'optimizer' is not an optimiser's state"),
        ({"model": {}, "amp_replay_buffer": {"x": 5}}, "test=False", "'amp_replay_buffer' is not a replay buffer"),
        ({"model": {}, "amp_input_mean_std": {"a": torch.zeros(3)}}, "test=True", "not a running mean and variance"),
        ({"model": {}}, "test=False", "has no optimiser state, so training cannot resume from it"),
    ],
)
def test_damaged_checkpoint_siblings(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    state: dict,
    mode: str,
    fragment: str,
) -> None:
    from isaacgymenvs.launcher import main

    torch.save(state, tmp_path / "damaged.pth")
    monkeypatch.chdir(tmp_path)
    status = main([*SMALL_RUN, mode, "checkpoint=damaged.pth"])
    _assert_refused(subprocess.CompletedProcess([], status, "", capsys.readouterr().err), "damaged.pth", fragment)
    _no_outputs(tmp_path, "damaged.pth")


# --- 8: a BVH with wrong joint names --------------------------------------------------------------------------------


def test_bvh_with_wrong_joint_names(walk_files: Path, tmp_path: Path) -> None:
    text = (walk_files / "walk.bvh").read_text()
    (tmp_path / "names.bvh").write_text(text.replace("left_foot", "LeftFoot").replace("right_hand", "RightHand"))
    line = _assert_refused(_motion_cli(["convert", "names.bvh", "out.npz"], tmp_path), "names.bvh")
    assert "missing 'right_hand', 'left_foot'; unexpected 'RightHand', 'LeftFoot'" in line
    assert "pelvis" not in line  # the names that agree are not listed
    _no_outputs(tmp_path, "names.bvh")


def test_poselib_names_sibling(walk_files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from isaacgymenvs.motion.formats.poselib_npy import poselib_dict

    stored = poselib_dict(load_motion(walk_files / "walk.npy"))
    stored["skeleton_tree"]["node_names"] = [
        "Chest" if name == "torso" else name for name in stored["skeleton_tree"]["node_names"]
    ]
    payload = np.empty((), dtype=object)
    payload[()] = stored
    np.save(tmp_path / "names.npy", payload, allow_pickle=True)
    line = _refused_in_process(capsys, ["info", str(tmp_path / "names.npy")], "missing 'torso'; unexpected 'Chest'")
    assert "pelvis" not in line


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


# --- siblings in the motion command line's own options and outputs -------------------------------------------------


def test_motion_cli_option_and_output_siblings(
    walk_files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    walk = str(walk_files / "walk.npy")
    _refused_in_process(capsys, ["view", walk, "--width", "100000"], "--width", "from 16 to 8192")
    _refused_in_process(capsys, ["view", walk, "--seconds", "nan"], "--seconds", "finite")
    _refused_in_process(capsys, ["view", walk, "--start=-inf"], "--start", "finite")
    (tmp_path / "folder.npy").mkdir()
    _refused_in_process(capsys, ["convert", walk, str(tmp_path / "folder.npy")], "folder.npy", "it is a folder")
    _refused_in_process(capsys, ["info", "x" * 5000 + ".npy"], "not found")
    # A set larger than any clip may be, refused as it grows (the same walk clip listed 20,000 times).
    (tmp_path / "many.yaml").write_text("motions:\n" + "  - file: humanoid3d_walk\n" * 20_000)
    _refused_in_process(capsys, ["info", str(tmp_path / "many.yaml")], "many.yaml", "a motion set may hold in all")
    (tmp_path / "many.yaml").unlink()
    line = _refused_in_process(capsys, ["info", str(tmp_path / "two\nlines.npy")], "not found")
    assert "two\\nlines.npy" in line
    _no_outputs(tmp_path, "folder.npy")
