"""Which physics backend a HumanoidAMP task simulates in, where, and building it from the task's configuration.

``task.sim.backend`` is ``mujoco`` (C MuJoCo, always on the CPU), ``mujoco_warp`` (MuJoCo Warp, on the asked device)
or ``auto`` (MuJoCo Warp when the simulation is asked on an available CUDA device and MuJoCo Warp is installed, else
C MuJoCo). A model file named relatively is looked up under the project's ``assets/`` folder, as in the original.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from isaacgymenvs.motion.skeleton import JointLayout
from isaacgymenvs.physics.backend import BackendConfig, PhysicsBackend
from isaacgymenvs.physics.mujoco_backend import MuJoCoBackend
from isaacgymenvs.physics.mujoco_warp_backend import INSTALL_HINT, MuJoCoWarpBackend, warp_available
from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError, HumanoidAMPConfig

ASSET_ROOT = Path(__file__).resolve().parents[3] / "assets"


def select_backend(backend: str, sim_device: str) -> str:
    """The backend to build: ``backend`` (``task.sim.backend``) itself, or for ``auto`` MuJoCo Warp when
    ``sim_device`` is a CUDA device, CUDA is available and MuJoCo Warp is installed, else C MuJoCo.

    Raises:
        ConfigError: ``mujoco_warp`` asked for without MuJoCo Warp installed (says how to install it).
    """
    if backend == "auto":
        on_cuda = torch.device(sim_device).type == "cuda" and torch.cuda.is_available()
        return "mujoco_warp" if on_cuda and warp_available() else "mujoco"
    if backend == "mujoco_warp" and not warp_available():
        raise ConfigError(f"task.sim.backend=mujoco_warp needs MuJoCo Warp: {INSTALL_HINT}")
    return backend


def resolve_sim_device(sim_device: str) -> torch.device:
    """The device the MuJoCo backend simulates on: the CPU, whatever was asked (with a warning for CUDA)."""
    device = torch.device(sim_device)
    if device.type != "cpu":
        warnings.warn(
            f"sim_device={sim_device}: the MuJoCo backend simulates on the CPU; the learner still uses the rl_device",
            stacklevel=4,
        )
    return torch.device("cpu")


def build_backend(config: HumanoidAMPConfig, joint_layout: JointLayout, sim_device: str) -> PhysicsBackend:
    """The backend ``config.sim.backend`` selects (:func:`select_backend`), with the task's model, sizes and
    physics options, simulating on its device (MuJoCo Warp: ``sim_device``; C MuJoCo: the CPU)."""
    backend_name = select_backend(config.sim.backend, sim_device)
    warp = backend_name == "mujoco_warp"
    device = torch.device(sim_device) if warp else resolve_sim_device(sim_device)
    model_file = Path(config.asset_file)
    if not model_file.is_absolute():
        model_file = ASSET_ROOT / model_file
    backend_class = MuJoCoWarpBackend if warp else MuJoCoBackend
    return backend_class(
        BackendConfig(
            model_file=str(model_file),
            num_envs=config.num_envs,
            physics_dt=config.sim.physics_dt,
            gravity=config.sim.gravity,
            pd_control=config.pd_control,
            power_scale=config.power_scale,
            ground_friction=config.ground_friction,
            num_threads=config.sim.num_threads,
            compile_kernels=config.sim.compile_kernels,
            actuator_force_limits=config.sim.actuator_force_limits,
            self_collisions=config.sim.self_collisions,
            device=str(device),
        ),
        joint_layout,
    )
