"""Judging motion quality objectively: metrics (:mod:`.metrics`), the evaluation against baselines (:mod:`.evaluate`)
and its command line (``python -m isaacgymenvs.eval``)."""
