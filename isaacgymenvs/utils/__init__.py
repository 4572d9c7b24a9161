"""Shared helpers: the rotation module (quaternions x, y, z, w), rl_games glue, config conversion, seeding and the
optional compiled kernels."""
