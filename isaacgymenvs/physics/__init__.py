"""Physics backends behind a small interface (:mod:`.backend`): MuJoCo batched on the CPU (:mod:`.mujoco_backend`),
and the mapping between the original's DOF layout and MuJoCo's hinge joints (:mod:`.joint_mapping`)."""
