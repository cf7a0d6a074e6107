"""posemoe: PoseMoE 2D-to-3D human pose lifting (network, data, training, evaluation).

Public API::

    from posemoe import PoseMoE, PoseMoEConfig, load_checkpoint, Lifter
"""

from posemoe.checkpoint import load_checkpoint
from posemoe.errors import PoseMoEError
from posemoe.lifter import Lifter
from posemoe.model import PoseMoE, PoseMoEConfig, PoseMoEOutput, preset

__version__ = "0.1.0"
__all__ = ["PoseMoE", "PoseMoEConfig", "PoseMoEOutput", "PoseMoEError", "Lifter", "load_checkpoint", "preset"]
