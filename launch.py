"""Train or play HumanoidAMP with the AMP learner: ``python launch.py task=HumanoidAMP [key=value ...]``.

The original's ``train.py``; see ``isaacgymenvs/launcher.py`` (and ``python launch.py --help``).
"""

import sys

from isaacgymenvs.launcher import main

if __name__ == "__main__":
    sys.exit(main())
