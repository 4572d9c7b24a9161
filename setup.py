"""Installation of the isaacgymenvs package (HumanoidAMP and the AMP learner on MuJoCo).

PyTorch is a requirement but is best installed first, on its own (``scripts/install.sh`` does): a plain
``pip install torch`` on a machine without it may pull a multi-GB CUDA build.
"""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="isaacgymenvs",
    version="0.1.0",
    description="HumanoidAMP (Adversarial Motion Priors) and its rl_games AMP plugin, re-created on MuJoCo",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.11",
    packages=find_packages(include=["isaacgymenvs", "isaacgymenvs.*"]),
    include_package_data=True,
    install_requires=[
        "torch>=2.1",
        "numpy>=1.26",
        "scipy>=1.11",
        "pyyaml>=6",
        "gymnasium>=1.0",
        "mujoco>=3.3",
        "rl-games==1.6.5",
        "hydra-core>=1.3",
        "omegaconf>=2.3",
        "tensorboard>=2.14",
        # Ships DeepMimic's humanoid clips, the built-in default motions.
        "pybullet>=3.2.6",
        # Videos (an ffmpeg binary comes in the imageio-ffmpeg wheel) and training plots.
        "imageio>=2.30",
        "imageio-ffmpeg>=0.5",
        "matplotlib>=3.8",
    ],
    extras_require={
        "test": ["pytest>=8", "ruff>=0.6"],
        # A second AMP learner on the same task (isaacgymenvs/learning/skrl_amp.py, examples/train_skrl_amp.py).
        "skrl": ["skrl==2.1.1"],
        # The MuJoCo Warp physics backend (task.sim.backend=mujoco_warp; GPU, also runs slowly on Warp's CPU device).
        "gpu": ["mujoco-warp>=4.0", "warp-lang>=1.19"],
    },
)
