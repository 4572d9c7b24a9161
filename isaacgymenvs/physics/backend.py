"""The small interface between a task and a physics engine.

A backend simulates one articulated character in ``num_envs`` independent environments and exposes batched torch
tensors in the original task's conventions (Isaac Gym's): world frame, z up, quaternions (x, y, z, w), rigid bodies
and DOFs in the character's canonical order, DOFs as the original's exponential maps. The task never sees engine
types, so a GPU backend can replace the MuJoCo one without touching it.

State tensors (refreshed by :meth:`PhysicsBackend.refresh`, valid until the next step or state write):

* ``root_states`` ``[N, 13]``: root position (3), rotation (4), linear velocity (3), angular velocity (3), world frame.
* ``dof_pos``, ``dof_vel`` ``[N, D]``.
* ``rigid_body_pos`` ``[N, B, 3]``, ``rigid_body_rot`` ``[N, B, 4]``, ``rigid_body_vel``, ``rigid_body_ang_vel``
  ``[N, B, 3]``: body-frame origins and their velocities, world frame.
* ``contact_forces`` ``[N, B, 3]``: net contact force on each body (N, world frame), self-contacts included.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import torch

from isaacgymenvs.physics import kinematics as kin


@dataclass(kw_only=True)
class BackendConfig:
    """What every backend needs to build a batch of environments.

    Attributes:
        model_file: the character's model file (MJCF).
        num_envs: number of environments.
        physics_dt: one physics step (s).
        gravity: world gravity (m/s^2).
        pd_control: PD position servos (True) or direct torques (False).
        power_scale: torque scale in torque mode (action 1 = ``power_scale`` x motor effort).
        ground_friction: floor friction coefficient (sliding).
        num_threads: CPU threads for stepping (0: all cores).
        compile_kernels: compile the per-step tensor maths with ``torch.compile`` (:mod:`isaacgymenvs.utils.kernels`).
        actuator_force_limits: cap PD servo torques at the model's force ranges (False: uncapped).
        self_collisions: the character's bodies collide with each other (False: with the ground only).
        device: where the state tensors live.
    """

    model_file: str
    num_envs: int
    physics_dt: float
    gravity: tuple[float, float, float] = (0.0, 0.0, -9.81)
    pd_control: bool = True
    power_scale: float = 1.0
    ground_friction: float = 1.0
    num_threads: int = 0
    compile_kernels: bool = False
    actuator_force_limits: bool = True
    self_collisions: bool = True
    device: str = "cpu"


class PhysicsBackend(ABC):
    """A batch of environments of one character. See the module docstring for the tensor conventions."""

    num_envs: int
    body_names: tuple[str, ...]
    dof_names: tuple[str, ...]
    #: ``[D]`` lower and upper limits of each DOF's hinge (rad).
    dof_lower_limits: torch.Tensor
    dof_upper_limits: torch.Tensor
    #: ``[D]`` torque limit of each DOF's motor (N m): the original's ``motor_efforts``.
    motor_efforts: torch.Tensor
    device: torch.device

    root_states: torch.Tensor
    dof_pos: torch.Tensor
    dof_vel: torch.Tensor
    rigid_body_pos: torch.Tensor
    rigid_body_rot: torch.Tensor
    rigid_body_vel: torch.Tensor
    rigid_body_ang_vel: torch.Tensor
    contact_forces: torch.Tensor
    #: Whether :meth:`prepare_states` prepares states ahead (else it returns None).
    prepares_states: bool = False

    @abstractmethod
    def set_dof_position_targets(self, targets: torch.Tensor) -> None:
        """PD targets ``[N, D]`` in the DOF convention (exp maps for 3-DOF groups), held until changed."""

    @abstractmethod
    def set_dof_actuation_forces(self, torques: torch.Tensor) -> None:
        """Joint torques ``[N, D]`` (N m) for torque mode, held until changed."""

    @abstractmethod
    def simulate(self, num_steps: int, while_stepping: Callable[[], None] | None = None) -> torch.Tensor:
        """Advance every environment by ``num_steps`` physics steps.

        ``while_stepping`` is called on the caller's thread while the physics runs, where the engine allows it (the
        C backend steps on its own threads meanwhile); it must not touch the engine's state. Otherwise it is called
        before this returns.

        Returns:
            ``[N]`` bool: environments whose simulation became unstable (NaN, huge velocities, or an engine reset) in
            this call; their state is meaningless until the task writes a new one.
        """

    @abstractmethod
    def refresh(self, env_ids: torch.Tensor | None = None) -> None:
        """Update the state tensors from the engine (only the rows ``env_ids`` when given)."""

    @abstractmethod
    def set_state(
        self, env_ids: torch.Tensor, root_states: torch.Tensor, dof_pos: torch.Tensor, dof_vel: torch.Tensor
    ) -> None:
        """Teleport environments ``env_ids`` ``[n]`` to the given state (``[n, 13]``, ``[n, D]``, ``[n, D]``), clear
        their solver history, and make their derived quantities (body positions, contacts) current."""

    def prepare_states(
        self, root_states: torch.Tensor, dof_pos: torch.Tensor, dof_vel: torch.Tensor
    ) -> dict[str, torch.Tensor] | None:
        """Everything :meth:`set_state` followed by :meth:`refresh` would compute for ``M`` new states, computed now
        and written later by :meth:`write_prepared_states` (so that a task can prepare resets while the physics runs).

        Returns:
            tensors with a leading ``[M]`` dimension, among them ``root_states``, ``dof_pos``, ``dof_vel`` and
            ``rigid_body_pos`` as :meth:`refresh` would read them back; or None where the backend does not prepare
            states (then the task calls :meth:`set_state` and :meth:`refresh`).
        """
        return None

    def write_prepared_states(self, env_ids: torch.Tensor, prepared: dict[str, torch.Tensor]) -> None:
        """Put environments ``env_ids`` ``[n]`` in the prepared states (rows ``[n]`` of :meth:`prepare_states`'s
        result, in the same order), state tensors included, as :meth:`set_state` and :meth:`refresh` would."""
        raise NotImplementedError(f"{type(self).__name__} does not prepare states")

    def close(self) -> None:  # noqa: B027 - an optional hook: backends without resources to release keep it
        """Release engine resources."""


class LazyBodyVelocities(ABC):
    """Body velocities for a backend, computed when first read after a refresh (the task does not read them every
    step): the backend allocates ``_rigid_body_vel`` and ``_rigid_body_ang_vel`` ``[N, B, 3]``, sets
    ``_body_vel_stale`` whenever its state changes, and provides :meth:`_body_cvel_and_com`."""

    _body_vel_stale: bool
    _rigid_body_vel: torch.Tensor
    _rigid_body_ang_vel: torch.Tensor
    rigid_body_pos: torch.Tensor

    @property
    def rigid_body_vel(self) -> torch.Tensor:
        """``[N, B, 3]`` linear velocities of the body-frame origins (world frame)."""
        self._update_body_velocities()
        return self._rigid_body_vel

    @property
    def rigid_body_ang_vel(self) -> torch.Tensor:
        """``[N, B, 3]`` angular velocities of the bodies (world frame)."""
        self._update_body_velocities()
        return self._rigid_body_ang_vel

    @abstractmethod
    def _body_cvel_and_com(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The engine's velocity stage at the current state: ``cvel`` ``[N, B, 6]`` (angular, linear) of the
        character's bodies at its tree's centre of mass, and that centre ``[N, 1, 3]`` (float32, on the device)."""

    def _update_body_velocities(self) -> None:
        if not self._body_vel_stale:
            return
        cvel, com = self._body_cvel_and_com()
        # cvel is [angular, linear] at the tree's centre of mass; move the linear part to each body's origin.
        angular, linear = kin.body_velocities_from_cvel(cvel, self.rigid_body_pos, com)
        self._rigid_body_ang_vel[:] = angular
        self._rigid_body_vel[:] = linear
        self._body_vel_stale = False
