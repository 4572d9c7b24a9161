"""AMP utilities at the original's import path: :class:`.motion_lib.MotionLib`."""
