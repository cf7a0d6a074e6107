"""Where the weights shipped with posemoe are (torch-free, so the application finds the default
model's path without loading torch).

pyproject.toml installs the repository's ``weights/`` folder as the package ``posemoe.weights``
with its ``*.pt`` files and model card, so ``importlib.resources`` finds them in an installed
wheel and, through the editable install, in the checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SHIPPED_PACKAGE = "posemoe.weights"  # the repository's weights/ folder, installed as this package
DEFAULT_NAME = "posemoe-default.pt"  # the default lifting model (model card: weights/README.md)


def shipped_weights(name: str = DEFAULT_NAME) -> Path:
    """Path of a file shipped in ``weights/`` (default: the default lifting model); it may be missing.

    A checkout put on ``sys.path`` without being installed has no ``posemoe.weights`` package:
    then ``weights/`` beside the source tree.
    """
    try:
        return Path(str(files(SHIPPED_PACKAGE).joinpath(name)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "weights" / name
