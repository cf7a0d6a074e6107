"""pipeline: the posemoe application (command line, video in, poses out). Depends on posemoe.

Importing it before torch sets ``OMP_WAIT_POLICY=PASSIVE`` (unless already set): torch's OpenMP
threads then sleep while they wait instead of spinning. On a 2-core machine that lets lifting use
both cores (1.7x the frames/s of one thread when idle) without collapsing when other work wants
the CPU (spinning threads fell to 0.3x of one thread; sleeping ones stay at 1.0x).
"""

import os as _os
import sys as _sys

if "torch" not in _sys.modules:
    _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
