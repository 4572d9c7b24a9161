"""Motion data: the skeleton, the :class:`~.motion.Motion` container, file formats (:mod:`.formats`), the built-in
clips (:mod:`.builtin`), clip analysis and the ``python -m isaacgymenvs.motion`` command line."""
