"""Siblings of the hostile inputs in ``test_hostile_input.py``: the same kinds of input in every other reader, writer
and option (other fields of an ``.npz``, other BVH header values, other config keys, damaged checkpoints, oversized
files and sets), through the same entry points in this process, which is faster and runs the same code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SMALL_RUN
from test_hostile_input import (
    _assert_refused,
    _huge_header,
    _nested_bvh,
    _no_outputs,
    _npz_fields,
    _refused_in_process,
    walk_files,
)

from isaacgymenvs.motion.files import load_motion
from isaacgymenvs.motion.limits import MAX_BVH_JOINTS, MAX_FRAMES, MAX_MOTION_FILE_BYTES

__all__ = ["walk_files"]  # the module-scoped fixture, shared


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
        ("train.params.config.mixed_precision=bf16", "mixed_precision must be true, false or auto, got 'bf16'"),
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
