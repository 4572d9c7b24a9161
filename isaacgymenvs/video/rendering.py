"""Offscreen rendering of the humanoid with MuJoCo, on machines with or without a display.

MuJoCo picks its OpenGL platform from ``MUJOCO_GL`` when it is first imported. :func:`configure_gl` chooses one before
that: the user's ``MUJOCO_GL`` if set, GLFW when a display is present, else EGL (Mesa's software renderer works
without a GPU) or OSMesa, whichever has its library installed (Debian: ``libegl1 libgl1-mesa-dri`` or
``libosmesa6``). Rendering therefore runs in processes that have not imported MuJoCo yet (the video recorder's worker,
the motion viewer); a process that already has MuJoCo keeps its platform.

:class:`HumanoidRenderer` draws the AMP humanoid from MuJoCo ``qpos`` vectors: the model's checker floor as the ground
grid, no shadows, reflections or skybox (six times faster in software), and a camera that follows the pelvis from the
side (``cameraFollow``) or looks at a fixed point.
"""

from __future__ import annotations

import ctypes.util
import os
from pathlib import Path

import numpy as np

DEFAULT_WIDTH = 640
DEFAULT_HEIGHT = 480
CAMERA_DISTANCE = 4.0  # m
CAMERA_ELEVATION = -15.0  # degrees
CAMERA_AZIMUTH = 90.0  # degrees: looking at the humanoid's left side, +x to the right of the image
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = PROJECT_ROOT / "assets" / "mjcf" / "amp_humanoid.xml"


class RenderingUnavailableError(RuntimeError):
    """No OpenGL platform can render here; the message says what to install."""


INSTALL_HINT = (
    "install Mesa's offscreen libraries (Debian/Ubuntu: apt-get install libegl1 libgl1-mesa-dri, or "
    "libosmesa6) or set MUJOCO_GL"
)


def configure_gl() -> str:
    """Set ``MUJOCO_GL`` for this process (if MuJoCo is not imported yet) and return the platform chosen.

    Raises:
        RenderingUnavailableError: no display and neither EGL nor OSMesa is installed.
    """
    if os.environ.get("MUJOCO_GL"):
        if os.environ["MUJOCO_GL"].lower() in ("disable", "disabled", "off", "false", "0"):
            raise RenderingUnavailableError(
                f"rendering is disabled (MUJOCO_GL={os.environ['MUJOCO_GL']}); {INSTALL_HINT}"
            )
        return os.environ["MUJOCO_GL"]
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        choice = "glfw"
    elif ctypes.util.find_library("EGL"):
        choice = "egl"
    elif ctypes.util.find_library("OSMesa"):
        choice = "osmesa"
    else:
        raise RenderingUnavailableError(f"no display and no EGL or OSMesa library: {INSTALL_HINT}")
    os.environ["MUJOCO_GL"] = choice
    if choice == "egl":
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    elif choice == "osmesa":
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    return choice


class HumanoidRenderer:
    """Renders frames ``[H, W, 3]`` (uint8 RGB) of the humanoid model from ``qpos`` vectors.

    Args:
        model_file: the MJCF to draw.
        width, height: image size (pixels).
        follow: the camera tracks the pelvis (else it looks at ``lookat`` from a fixed place).
        lookat: fixed camera target (m) when not following.
        distance: camera distance (m).
    """

    def __init__(
        self,
        model_file: str | Path = DEFAULT_MODEL,
        width: int = DEFAULT_WIDTH,
        height: int = DEFAULT_HEIGHT,
        follow: bool = True,
        lookat: tuple[float, float, float] = (0.0, 0.0, 0.9),
        distance: float = CAMERA_DISTANCE,
    ) -> None:
        configure_gl()
        import mujoco

        self._mujoco = mujoco
        self.model = mujoco.MjModel.from_xml_path(str(model_file))
        self.model.vis.global_.offwidth = max(self.model.vis.global_.offwidth, width)
        self.model.vis.global_.offheight = max(self.model.vis.global_.offheight, height)
        self.data = mujoco.MjData(self.model)
        try:
            self.renderer = mujoco.Renderer(self.model, height=height, width=width)
        except Exception as error:  # any OpenGL failure means the same thing to the user
            raise RenderingUnavailableError(
                f"MuJoCo cannot render with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r} "
                f"({type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}); "
                f"{INSTALL_HINT}"
            ) from None
        self.camera = mujoco.MjvCamera()
        self.camera.distance = distance
        self.camera.elevation = CAMERA_ELEVATION
        self.camera.azimuth = CAMERA_AZIMUTH
        if follow:
            self.camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
            self.camera.trackbodyid = self.model.body("pelvis").id
        else:
            self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
            self.camera.lookat[:] = lookat
        self.options = mujoco.MjvOption()
        flags = self.renderer.scene.flags
        for flag in (
            mujoco.mjtRndFlag.mjRND_SHADOW,
            mujoco.mjtRndFlag.mjRND_REFLECTION,
            mujoco.mjtRndFlag.mjRND_SKYBOX,
        ):
            flags[flag] = False

    @property
    def nq(self) -> int:
        return self.model.nq

    def render(self, qpos: np.ndarray) -> np.ndarray:
        """One frame ``[H, W, 3]`` of the humanoid at ``qpos`` ``[nq]``."""
        self.data.qpos[:] = qpos
        self._mujoco.mj_forward(self.model, self.data)
        self.renderer.update_scene(self.data, camera=self.camera, scene_option=self.options)
        flags = self.renderer.scene.flags  # update_scene resets the flags from the model's defaults
        for flag in (
            self._mujoco.mjtRndFlag.mjRND_SHADOW,
            self._mujoco.mjtRndFlag.mjRND_REFLECTION,
            self._mujoco.mjtRndFlag.mjRND_SKYBOX,
        ):
            flags[flag] = False
        return self.renderer.render().copy()

    def render_sequence(self, qpos: np.ndarray) -> np.ndarray:
        """Frames ``[T, H, W, 3]`` for ``qpos`` ``[T, nq]``."""
        return np.stack([self.render(row) for row in qpos])

    def close(self) -> None:
        self.renderer.close()


def write_video(frames: np.ndarray, path: str | Path, fps: float) -> None:
    """Encode frames ``[T, H, W, 3]`` as an H.264 mp4 (written to a temporary file, then moved into place)."""
    import imageio.v2 as imageio

    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial.mp4")
    try:
        with imageio.get_writer(
            temporary, fps=fps, codec="libx264", quality=7, macro_block_size=8, ffmpeg_log_level="error"
        ) as writer:
            for frame in frames:
                writer.append_data(frame)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_image(image: np.ndarray, path: str | Path) -> None:
    """Write an RGB image ``[H, W, 3]`` (PNG by extension), atomically."""
    import imageio.v2 as imageio

    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial{path.suffix}")
    try:
        imageio.imwrite(temporary, image)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
