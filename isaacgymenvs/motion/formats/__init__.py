"""Readers and writers of motion files: the original's poselib ``.npy``, IsaacLab-style ``.npz``, BVH and DeepMimic
``.txt`` clips; each converts to and from :class:`isaacgymenvs.motion.motion.Motion` at the file boundary."""
