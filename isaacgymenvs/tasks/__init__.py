"""The task map: task names (``task=...`` on the command line, the config's ``name``) to task classes."""

from __future__ import annotations

from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

# HumanoidAMPHands is HumanoidAMP with the hands as contact bodies (its config's name is HumanoidAMP, as in the
# original); both names are accepted.
isaacgym_task_map = {
    "HumanoidAMP": HumanoidAMP,
    "HumanoidAMPHands": HumanoidAMP,
}
