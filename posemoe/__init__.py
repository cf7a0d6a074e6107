"""posemoe: PoseMoE 2D-to-3D human pose lifting (network, data, training, evaluation).

Public API::

    from posemoe import PoseMoE, PoseMoEConfig, load_checkpoint, Lifter

The names are loaded on first use: importing a torch-free part of the package (``posemoe.errors``,
``posemoe.skeleton``, ``posemoe.smoothing``) does not load torch (about 1 s), so the command line
and the 2D side of the application start without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from posemoe.errors import PoseMoEError

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    "load_checkpoint": "posemoe.checkpoint",
    "Lifter": "posemoe.lifter",
    "PoseMoE": "posemoe.model",
    "PoseMoEConfig": "posemoe.config",
    "PoseMoEOutput": "posemoe.model",
    "preset": "posemoe.config",
}

__all__ = ["PoseMoE", "PoseMoEConfig", "PoseMoEOutput", "PoseMoEError", "Lifter", "load_checkpoint", "preset"]

if TYPE_CHECKING:
    from posemoe.checkpoint import load_checkpoint
    from posemoe.lifter import Lifter
    from posemoe.config import PoseMoEConfig, preset
    from posemoe.model import PoseMoE, PoseMoEOutput


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'posemoe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
