"""MuJoCo's warnings go to Python logging and a counter, never to ``MUJOCO_LOG.TXT`` in the working directory.

Left alone, MuJoCo appends each warning (``Nan, Inf or huge value in QVEL at DOF 12. The simulation is unstable``,
raised when a simulation blows up) to ``MUJOCO_LOG.TXT`` in the current directory and prints it to stdout.
:func:`install_warning_handler`, called when a backend is built, installs MuJoCo's user warning handler
(``mju_user_warning``, through the bindings' own setter) so that warnings reach the logger
``isaacgymenvs.physics.mujoco`` instead and are counted (:func:`warning_count`), and switches the default handler's log
file off for any other message (errors still reach Python as exceptions). The unstable simulations themselves are
detected, reset and counted by the backend and the task (``extras["unstable_envs_total"]``, TensorBoard
``env/unstable_envs_total``); the first :data:`LOGGED_WARNINGS` warnings are logged at WARNING level, later ones at
DEBUG level so that a long run's console is not flooded.

Thread safety: ``mujoco.batch.Batch`` steps on C worker threads with the GIL released. The bindings' trampoline takes
the GIL before it calls the handler, which only bumps a counter under a lock and hands the text to ``logging`` (itself
thread-safe). The handler never raises: an exception escaping it would become a MuJoCo error in that simulation.
"""

from __future__ import annotations

import logging
import threading

import mujoco

LOGGER = logging.getLogger("isaacgymenvs.physics.mujoco")
# Warnings logged at WARNING level per process; the rest go to DEBUG (the instabilities are counted elsewhere).
LOGGED_WARNINGS = 5

_lock = threading.Lock()
_count = 0


def _on_warning(message: str) -> None:
    """MuJoCo's ``mju_user_warning``: count the warning and log it. Runs on MuJoCo's threads; must not raise."""
    global _count
    try:
        with _lock:
            _count += 1
            count = _count
        text = message.strip()
        if count < LOGGED_WARNINGS:
            LOGGER.warning("MuJoCo warning: %s", text)
        elif count == LOGGED_WARNINGS:
            LOGGER.warning(
                "MuJoCo warning: %s (further MuJoCo warnings are logged at DEBUG level; unstable environments are "
                "counted in env/unstable_envs_total)",
                text,
            )
        else:
            LOGGER.debug("MuJoCo warning %d: %s", count, text)
    except Exception:  # an exception here would turn into a MuJoCo error; losing a log line is better
        pass


def install_warning_handler() -> None:
    """Send MuJoCo's warnings to :data:`LOGGER` and keep its default handler from writing ``MUJOCO_LOG.TXT``.

    Process-wide and idempotent. A warning handler that someone else installed before is kept (they chose where
    warnings go); the log file is switched off either way.
    """
    with _lock:
        config = mujoco.MjLogConfig.get()
        if config.logto_file:
            config.logto_file = False
            config.set()
        if mujoco.get_mju_user_warning() is None:
            mujoco.set_mju_user_warning(_on_warning)


def warning_count() -> int:
    """MuJoCo warnings received by this process's handler so far."""
    with _lock:
        return _count
