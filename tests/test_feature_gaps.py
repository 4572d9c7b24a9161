"""The AMP feature names and gaps: each name sits where the observation function writes that quantity (one input
changed, one named feature moves), and the standardised gaps against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isaacgymenvs.eval.feature_gaps import amp_feature_names, gaps_table, largest_gaps, standardized_gaps
from isaacgymenvs.motion.skeleton import AMP_JOINT_LAYOUT
from isaacgymenvs.tasks.amp.humanoid_amp_base import compute_humanoid_observations

NAMES = amp_feature_names()


def _observe(root: torch.Tensor, dof_pos: torch.Tensor, dof_vel: torch.Tensor, keys: torch.Tensor) -> np.ndarray:
    return compute_humanoid_observations(root[None], dof_pos[None], dof_vel[None], keys[None], False)[0].numpy()


def _moved(change: str, index: int) -> set[str]:
    """The names of the features that move when one input component changes, from a neutral standing state."""
    root = torch.tensor([0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    dof_pos, dof_vel = torch.full((28,), 0.1, dtype=torch.float64), torch.zeros(28, dtype=torch.float64)
    keys = torch.tensor([[0.2, -0.3, 0.9], [0.2, 0.3, 0.9], [0.0, -0.1, 0.1], [0.0, 0.1, 0.1]], dtype=torch.float64)
    before = _observe(root, dof_pos, dof_vel, keys)
    inputs = {"root": root, "dof_pos": dof_pos, "dof_vel": dof_vel, "keys": keys.view(-1)}
    inputs[change][index] += 0.3
    after = _observe(root, dof_pos, dof_vel, keys)
    return {NAMES[i] for i in np.flatnonzero(np.abs(after - before) > 1e-9)}


def test_every_feature_is_named_once() -> None:
    assert len(NAMES) == 105 and len(set(NAMES)) == 105
    assert NAMES[0] == "root height" and NAMES[-1] == "left_foot position z"


@pytest.mark.parametrize(
    ("change", "index", "expected"),
    [
        # Hands and feet are relative to the root: raising it lowers them.
        (
            "root",
            2,
            {"root height", *(f"{body} position z" for body in ("right_hand", "left_hand", "right_foot", "left_foot"))},
        ),
        ("root", 7, {"root velocity x"}),
        ("root", 12, {"root angular velocity z"}),
        ("dof_vel", 17, {"right_knee velocity"}),
        ("dof_pos", 17, {"right_shin angle"}),
        ("keys", 9, {"left_foot position x"}),
    ],
)
def test_a_changed_input_moves_the_feature_of_that_name(change: str, index: int, expected: set[str]) -> None:
    assert _moved(change, index) == expected


def test_a_spherical_joint_moves_only_its_own_rotation_features() -> None:
    moved = _moved("dof_pos", 14)  # right_hip_x: the right thigh's group
    assert moved and all(name.startswith("right_thigh rotation ") for name in moved)
    assert AMP_JOINT_LAYOUT.dof_names[14] == "right_hip_x"


def test_gaps_by_hand() -> None:
    subject = np.array([[0.0, 1.0], [2.0, 1.0]])  # means 1 and 1, variances 1 and 0
    reference = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])  # means 0 and 1, variances 0 and 0
    gaps, ratios = standardized_gaps(subject, reference)
    np.testing.assert_allclose(gaps, [1.0 / np.sqrt(0.5), 0.0])  # pooled deviation sqrt((1 + 0) / 2)
    np.testing.assert_allclose(ratios, [1.0 / 1e-3, 0.0])  # the constant reference feature against the floor


def test_largest_gaps_rank_by_size_and_check_the_width() -> None:
    generator = np.random.default_rng(0)
    reference = generator.normal(size=(500, 105))
    subject = generator.normal(size=(500, 105))
    subject[:, 0] -= 3.0  # the root height, three deviations low
    subject[:, 93] += 1.5  # the right hand forward
    records = largest_gaps(subject, reference, count=3)
    assert [record["feature"] for record in records[:2]] == ["root height", "right_hand position x"]
    assert records[0]["gap_std"] == pytest.approx(-3.0, abs=0.3)
    assert abs(records[2]["gap_std"]) < 0.5  # the rest is noise
    assert gaps_table(records).splitlines()[2].startswith("| root height |")
    with pytest.raises(ValueError, match="expected 105 features"):
        largest_gaps(subject[:, :100], reference)
