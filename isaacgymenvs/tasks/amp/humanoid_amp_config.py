"""The HumanoidAMP task's configuration as one typed structure, read once from the Hydra task config.

The YAML keeps the original's keys (``cfg/task/HumanoidAMP.yaml``: ``env.numEnvs``, ``env.stateInit``, ``sim.dt``,
...); :meth:`HumanoidAMPConfig.from_cfg` checks every value's type and range and raises :class:`ConfigError` with the
full key path when one is wrong, so a bad command-line override fails in one line before anything is built. Derived
sizes (observation and action counts) come from the character, never from the config.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# Physics backends a task config may name (auto: chosen from sim_device and what is installed).
BACKENDS = ("auto", "mujoco", "mujoco_warp")
# Most simulation threads (a thread per core is the useful most; far more cannot even be started).
MAX_THREADS = 1024


class ConfigError(ValueError):
    """A configuration value of the wrong type or out of range; the message names the key."""


class StateInit(Enum):
    """How a reset environment is initialised (the original's ``stateInit``)."""

    Default = 0  # the character's default pose at the start position
    Start = 1  # the reference motion at time 0
    Random = 2  # the reference motion at a uniformly random time (reference state initialisation)
    Hybrid = 3  # Random with probability hybridInitProb, else Default


@dataclass(kw_only=True)
class SimConfig:
    """Simulation timing and engine settings (``task.sim``)."""

    dt: float = 0.0166
    """Seconds per ``simulate()`` call, as in the original (one control step is ``controlFrequencyInv`` calls)."""
    substeps: int = 2
    """Physics steps per ``simulate()`` call; the physics step is ``dt / substeps`` (0.0083 s)."""
    gravity: tuple[float, float, float] = (0.0, 0.0, -9.81)
    """m/s^2, z up."""
    backend: str = "auto"
    """Physics backend: ``mujoco`` (C MuJoCo on the CPU), ``mujoco_warp`` (MuJoCo Warp on ``sim_device``, the
    ``gpu`` extra), or ``auto``: ``mujoco_warp`` when ``sim_device`` is CUDA and MuJoCo Warp is installed, else
    ``mujoco`` [``task.sim.backend``, or the older ``task.sim.mujoco.backend``]."""
    num_threads: int = 0
    """CPU threads stepping the environments (0: every core available to the process)."""
    compile_kernels: bool = False
    """Compile the per-step tensor maths with torch.compile (faster steps, a slow first step; see docs)."""
    actuator_force_limits: bool = False
    """Cap each PD servo's torque at its motor gear (the MJCF's ``forcerange``), the spec's reading of the original;
    False (the default): uncapped. Whether Isaac Gym caps its PD drives so is uncertain (spec 3.2); uncapped servos
    learn much faster (docs/time_to_skill.md)."""
    self_collisions: bool = True
    """The character's bodies collide with each other (as in the original, whose self-contacts also count as falls);
    False: they collide with the ground only."""

    @property
    def physics_dt(self) -> float:
        return self.dt / self.substeps


@dataclass(kw_only=True)
class HumanoidAMPConfig:
    """``task.env`` of HumanoidAMP / HumanoidAMPHands (original key in brackets)."""

    num_envs: int
    """Number of environments [numEnvs]."""
    episode_length: int = 300
    """Episode cap in control steps; an episode ends at step ``episode_length - 1`` [episodeLength]."""
    pd_control: bool = True
    """Actions are PD targets (True) or torques (False) [pdControl]."""
    power_scale: float = 1.0
    """Torque-mode scale: torque = action x motor effort x power_scale [powerScale]."""
    control_frequency_inv: int = 2
    """``simulate()`` calls per action [controlFrequencyInv]."""
    state_init: StateInit = StateInit.Random
    """Initial state of a reset environment [stateInit]."""
    hybrid_init_prob: float = 0.5
    """Probability of a reference-motion start in Hybrid mode [hybridInitProb]."""
    num_amp_obs_steps: int = 2
    """Consecutive per-step observations in one AMP observation, >= 2 [numAMPObsSteps]."""
    local_root_obs: bool = False
    """Remove the root's heading from its rotation observation [localRootObs]."""
    contact_bodies: tuple[str, ...] = ("right_foot", "left_foot")
    """Bodies allowed to touch things without ending the episode [contactBodies]."""
    termination_height: float = 0.5
    """m; a fall needs a non-contact body below this height [terminationHeight]."""
    enable_early_termination: bool = True
    """End episodes on falls [enableEarlyTermination]."""
    motion_file: str = "humanoid3d_run"
    """Reference motion: a file, a .yaml list or a built-in clip name [motion_file]."""
    asset_file: str = "mjcf/amp_humanoid.xml"
    """Character model, relative to ``assets/`` [asset.assetFileName]."""
    env_spacing: float = 5.0
    """Unused by MuJoCo (every environment has its own world) [envSpacing]."""
    camera_follow: bool = True
    """Video camera follows the character [cameraFollow]."""
    enable_debug_vis: bool = False
    """Unused [enableDebugVis]."""
    ground_friction: float = 1.0
    """Floor friction coefficient [plane.staticFriction]."""
    clip_observations: float = math.inf
    """Observation clamp [clipObservations]."""
    clip_actions: float = math.inf
    """Action clamp applied by the task (rl_games already clamps to [-1, 1]) [clipActions]."""
    sim: SimConfig = field(default_factory=SimConfig)

    @property
    def control_dt(self) -> float:
        """Seconds per action (0.0332 with the defaults)."""
        return self.control_frequency_inv * self.sim.dt

    @property
    def physics_steps_per_action(self) -> int:
        return self.control_frequency_inv * self.sim.substeps

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any]) -> HumanoidAMPConfig:
        """Read the task config (the ``task`` node: ``env``, ``sim``), checking every value.

        Raises:
            ConfigError: a value of the wrong type or out of range.
        """
        env = _Section(cfg.get("env", {}), "task.env")
        sim = _Section(cfg.get("sim", {}), "task.sim")
        mujoco = _Section(sim.get_section("mujoco"), "task.sim.mujoco")
        state_init = env.get("stateInit", str, "Random")
        if state_init not in StateInit.__members__:
            raise ConfigError(f"task.env.stateInit must be one of {list(StateInit.__members__)}, got {state_init!r}")
        contact_bodies = env.get("contactBodies", list, ["right_foot", "left_foot"])
        if not all(isinstance(name, str) for name in contact_bodies):
            raise ConfigError(f"task.env.contactBodies must be a list of body names, got {contact_bodies!r}")
        gravity = sim.get("gravity", list, [0.0, 0.0, -9.81])
        if len(gravity) != 3 or not all(isinstance(g, int | float) for g in gravity):
            raise ConfigError(f"task.sim.gravity must be three numbers, got {gravity!r}")
        asset = _Section(env.get_section("asset"), "task.env.asset")
        plane = _Section(env.get_section("plane"), "task.env.plane")
        config = cls(
            num_envs=env.get("numEnvs", int, None),
            episode_length=env.get("episodeLength", int, 300),
            pd_control=env.get("pdControl", bool, True),
            power_scale=env.get("powerScale", float, 1.0),
            control_frequency_inv=env.get("controlFrequencyInv", int, 2),
            state_init=StateInit[state_init],
            hybrid_init_prob=env.get("hybridInitProb", float, 0.5),
            num_amp_obs_steps=env.get("numAMPObsSteps", int, 2),
            local_root_obs=env.get("localRootObs", bool, False),
            contact_bodies=tuple(contact_bodies),
            termination_height=env.get("terminationHeight", float, 0.5),
            enable_early_termination=env.get("enableEarlyTermination", bool, True),
            motion_file=env.get("motion_file", str, "humanoid3d_run"),
            asset_file=asset.get("assetFileName", str, "mjcf/amp_humanoid.xml"),
            env_spacing=env.get("envSpacing", float, 5.0),
            camera_follow=env.get("cameraFollow", bool, True),
            enable_debug_vis=env.get("enableDebugVis", bool, False),
            ground_friction=plane.get("staticFriction", float, 1.0),
            clip_observations=env.get("clipObservations", float, math.inf),
            clip_actions=env.get("clipActions", float, math.inf),
            sim=SimConfig(
                dt=sim.get("dt", float, 0.0166),
                substeps=sim.get("substeps", int, 2),
                gravity=tuple(float(g) for g in gravity),
                # task.sim.backend; the older task.sim.mujoco.backend still counts when the new key is left at auto.
                backend=_backend_choice(sim.get("backend", str, "auto"), mujoco.get("backend", str, None)),
                num_threads=mujoco.get("num_threads", int, 0),
                compile_kernels=mujoco.get("compile_kernels", bool, False),
                actuator_force_limits=mujoco.get("actuator_force_limits", bool, False),
                self_collisions=mujoco.get("self_collisions", bool, True),
            ),
        )
        config.check()
        return config

    def check(self) -> None:
        """Raise :class:`ConfigError` for values out of range."""
        checks = [
            (
                self.num_envs is not None and self.num_envs > 0,
                "task.env.numEnvs (num_envs=)",
                "a positive integer",
                self.num_envs,
            ),
            (self.episode_length >= 2, "task.env.episodeLength", "an integer >= 2", self.episode_length),
            (
                self.control_frequency_inv >= 1,
                "task.env.controlFrequencyInv",
                "an integer >= 1",
                self.control_frequency_inv,
            ),
            (0.0 <= self.hybrid_init_prob <= 1.0, "task.env.hybridInitProb", "in [0, 1]", self.hybrid_init_prob),
            (self.num_amp_obs_steps >= 2, "task.env.numAMPObsSteps", "an integer >= 2", self.num_amp_obs_steps),
            (self.sim.dt > 0, "task.sim.dt", "a positive number of seconds", self.sim.dt),
            (self.sim.substeps >= 1, "task.sim.substeps", "an integer >= 1", self.sim.substeps),
            (
                0 <= self.sim.num_threads <= MAX_THREADS,
                "task.sim.mujoco.num_threads (num_threads=)",
                f"an integer from 0 to {MAX_THREADS}",
                self.sim.num_threads,
            ),
            (
                self.sim.backend in BACKENDS,
                "task.sim.backend",
                " or ".join(repr(name) for name in BACKENDS),
                self.sim.backend,
            ),
            (self.ground_friction >= 0, "task.env.plane.staticFriction", "a number >= 0", self.ground_friction),
            (self.clip_observations > 0, "task.env.clipObservations", "> 0 (inf: no clamp)", self.clip_observations),
            (self.clip_actions > 0, "task.env.clipActions", "> 0 (inf: no clamp)", self.clip_actions),
            (all(map(math.isfinite, self.sim.gravity)), "task.sim.gravity", "three finite numbers", self.sim.gravity),
        ]
        # A value from the command line may be nan or inf, which the ranges above do not all exclude.
        finite = {
            "task.env.powerScale": self.power_scale,
            "task.env.terminationHeight": self.termination_height,
            "task.env.envSpacing": self.env_spacing,
            "task.env.plane.staticFriction": self.ground_friction,
            "task.sim.dt": self.sim.dt,
        }
        checks += [(math.isfinite(value), key, "a finite number", value) for key, value in finite.items()]
        for ok, key, expected, value in checks:
            if not ok:
                raise ConfigError(f"{key} must be {expected}, got {value!r}")


def _backend_choice(backend: str, legacy: str | None) -> str:
    """``task.sim.backend``, unless it is ``auto`` and the older ``task.sim.mujoco.backend`` names one."""
    return legacy if backend == "auto" and legacy is not None else backend


class _Section:
    """Typed access to one config mapping; errors name the full key."""

    def __init__(self, values: Mapping[str, Any] | None, path: str) -> None:
        if values is not None and not isinstance(values, Mapping):
            raise ConfigError(f"{path} must be a mapping of keys, got {values!r}")
        self.values = values or {}
        self.path = path

    def get_section(self, key: str) -> Mapping[str, Any]:
        return self.values.get(key) or {}

    def get(self, key: str, kind: type, default: Any) -> Any:
        value = self.values.get(key, default)
        if value is None:
            return default
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if kind is float and isinstance(value, str) and value.lower() in ("inf", "+inf", "-inf"):
            return float(value)
        if kind is list and isinstance(value, tuple):
            return list(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            expected = {int: "an integer", float: "a number", bool: "true or false", str: "a string", list: "a list"}[
                kind
            ]
            raise ConfigError(f"{self.path}.{key} must be {expected}, got {value!r}")
        return value
