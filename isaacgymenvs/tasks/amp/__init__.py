"""The AMP humanoid task family: the humanoid base (:mod:`.humanoid_amp_base`), its typed config
(:mod:`.humanoid_amp_config`) and the motion library (:mod:`.utils_amp.motion_lib`)."""
