"""Process-wide torch settings: seeding repeats random draws; flushing denormals zeroes them on CPUs that can.
Atomic writes: ordinary permissions, nothing left behind and the previous file kept when a write fails."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from isaacgymenvs.utils.files import atomic_write
from isaacgymenvs.utils.overrides import override_keys
from isaacgymenvs.utils.utils import flush_denormals, set_seed


def test_set_seed_repeats_draws_and_offsets_by_rank() -> None:
    assert set_seed(7) == 7 and set_seed(7, rank=2) == 9
    set_seed(7)
    first = torch.rand(4)
    set_seed(7)
    assert torch.equal(first, torch.rand(4))


def test_flush_denormals_zeroes_denormal_products() -> None:
    denormal = torch.tensor([1e-39], dtype=torch.float32)
    try:
        if not flush_denormals():  # a CPU without the flag: nothing to check
            assert denormal.item() != 0.0
            return
        assert (denormal * 1.0).item() == 0.0
    finally:
        torch.set_flush_denormal(False)
    assert (torch.tensor([1e-39], dtype=torch.float32) * 1.0).item() != 0.0


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_write_permissions_follow_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        with atomic_write(tmp_path / "state.pth") as stream:
            torch.save({"w": torch.ones(3)}, stream)
        with open(tmp_path / "ordinary", "wb") as stream:
            stream.write(b"x")
        with atomic_write(tmp_path / "clip.bvh", "w") as stream:
            stream.write("HIERARCHY\n")
    finally:
        os.umask(previous)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in tmp_path.iterdir()}
    assert modes == {"state.pth": 0o666 & ~umask, "ordinary": 0o666 & ~umask, "clip.bvh": 0o666 & ~umask}
    assert torch.load(tmp_path / "state.pth", weights_only=True)["w"].sum() == 3
    assert (tmp_path / "clip.bvh").read_text() == "HIERARCHY\n"


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failed_atomic_write_keeps_the_previous_file_and_leaves_nothing(tmp_path: Path, error: type) -> None:
    target = tmp_path / "model.pth"
    target.write_bytes(b"old")
    with pytest.raises(error), atomic_write(target) as stream:
        stream.write(b"half of the new")
        raise error("interrupted while writing")
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["model.pth"]
    with pytest.raises(error), atomic_write(tmp_path / "new.pth"):  # no previous file: nothing at all
        raise error("interrupted while writing")
    assert [path.name for path in tmp_path.iterdir()] == ["model.pth"]


def test_atomic_write_errors_are_os_errors_naming_the_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(FileNotFoundError) as raised, atomic_write(missing / "model.pth"):
        pass
    assert raised.value.filename == str(missing)
    with pytest.raises(ValueError, match="mode"), atomic_write(tmp_path / "log.txt", "a"):
        pass
    # The final move fails (the target is a folder): the temporary file goes, the folder stays.
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError), atomic_write(tmp_path / "taken") as stream:
        stream.write(b"data")
    assert [path.name for path in tmp_path.iterdir()] == ["taken"] and not list((tmp_path / "taken").iterdir())


def test_override_keys_drop_prefixes_and_skip_deletions() -> None:
    given = ["task=HumanoidAMP", "++train.params.config.seed=3", "+x.y=a=b", "~task.sim", "~task.env.k=1"]
    assert override_keys(given) == {
        "task": "HumanoidAMP",
        "train.params.config.seed": "3",
        "x.y": "a=b",
        "task.env.k": "1",
    }
