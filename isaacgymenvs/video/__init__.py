"""Watching motion: offscreen rendering (:mod:`.rendering`), video and motion capture around a task
(:mod:`.recorder`) and the kinematic motion viewer (:mod:`.viewer`)."""
