"""The AMP humanoid task family: the humanoid base (:mod:`.humanoid_amp_base`), its typed config
(:mod:`.humanoid_amp_config`), the choice and construction of its physics backend (:mod:`.backend_choice`), the
starting states prepared ahead (:mod:`.reset_pool`) and the motion library (:mod:`.utils_amp.motion_lib`)."""
