"""The rl_games AMP plugin (agent, player, network, model, datasets, buffers, losses, config), its multi-process
helpers, and the adapter that runs skrl's AMP agent on the same task (:mod:`.skrl_amp`, optional)."""
