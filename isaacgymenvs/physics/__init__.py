"""Physics backends behind a small interface (:mod:`.backend`): MuJoCo batched on the CPU (:mod:`.mujoco_backend`),
the mapping between the original's DOF layout and MuJoCo's hinge joints (:mod:`.joint_mapping`), and where MuJoCo's
warnings go (:mod:`.mujoco_log`: Python logging, not ``MUJOCO_LOG.TXT``)."""
