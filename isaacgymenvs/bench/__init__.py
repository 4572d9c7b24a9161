"""Benchmarks: ``python -m isaacgymenvs.bench {motion,...}``. Each prints medians and ratios measured in one run."""
