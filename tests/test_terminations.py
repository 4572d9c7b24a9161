"""The termination analysis: the task's per-body contact test, and contacts sorted into ground and self-contact on
hand-made poses; then a short run through the command line."""

from __future__ import annotations

from pathlib import Path

import mujoco
import pytest
import torch
from conftest import PROJECT_ROOT, run_python

from isaacgymenvs.bench.terminations import classify, offending_bodies

MODEL_FILE = PROJECT_ROOT / "assets" / "mjcf" / "amp_humanoid.xml"


def test_offending_bodies_is_the_tasks_componentwise_test() -> None:
    forces = torch.zeros((2, 4, 3))
    forces[0, 1] = torch.tensor([0.0, 0.0, 0.2])  # > 0.1 upwards: counts
    forces[0, 2] = torch.tensor([-5.0, 0.0, 0.0])  # negative only: does not count (signed test)
    forces[1, 3] = torch.tensor([0.0, 0.5, 0.0])  # body 3 is a foot: allowed
    offending = offending_bodies(forces, torch.tensor([3]))
    assert offending.tolist() == [[False, True, False, False], [False, False, False, False]]


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(MODEL_FILE))


def _body(model: mujoco.MjModel, name: str) -> int:
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)


def _set_joint(model: mujoco.MjModel, qpos: object, name: str, value: float) -> None:
    qpos[model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)]] = value


def test_knees_on_the_floor_are_a_ground_contact(model: mujoco.MjModel) -> None:
    qpos = model.qpos0.copy()
    qpos[2] = 0.2  # pelvis 0.2 m above the floor: the legs go through it
    shins = {_body(model, "right_shin"), _body(model, "left_shin")}
    cause, pairs = classify(model, mujoco.MjData(model), qpos, shins)
    assert cause == "ground" and ("right_shin", "world") in pairs and ("left_shin", "world") in pairs


def test_crossed_thighs_in_the_air_are_self_contact_only(model: mujoco.MjModel) -> None:
    qpos = model.qpos0.copy()
    qpos[2] = 2.0  # high in the air: nothing touches the floor
    _set_joint(model, qpos, "right_hip_x", 0.5)  # both legs swung inwards until the thighs overlap
    _set_joint(model, qpos, "left_hip_x", -0.5)
    thighs = {_body(model, "right_thigh"), _body(model, "left_thigh")}
    cause, pairs = classify(model, mujoco.MjData(model), qpos, thighs)
    assert cause == "self only" and pairs == [("left_thigh", "right_thigh")]


def test_nothing_touching_is_unclear(model: mujoco.MjModel) -> None:
    qpos = model.qpos0.copy()
    qpos[2] = 2.0
    assert classify(model, mujoco.MjData(model), qpos, {_body(model, "right_shin")}) == ("unclear", [])


@pytest.mark.sim
def test_command_line_reports_the_causes(tmp_path: Path) -> None:
    args = ["-m", "isaacgymenvs.bench", "terminations", "--steps", "40", "--envs", "16", "--policy", "zero"]
    result = run_python(args, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].endswith("steps of 16 environments, policy zero") and int(lines[0].split()[0]) > 0
    shares = [
        float(line.split()[-1].rstrip("%")) for line in lines if line.strip().startswith(("ground", "self", "unclear"))
    ]
    assert len(shares) == 3 and abs(sum(shares) - 100.0) < 0.3
