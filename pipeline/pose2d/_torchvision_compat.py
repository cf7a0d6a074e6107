"""Make ``import torchvision`` work where its compiled operators cannot load.

``mmpose.apis`` imports torchvision. On a machine whose torchvision matches torch, that import
just works and this module does nothing. Where only a torchvision wheel built for another
flavour of torch is available (here: torchvision 0.28.0 next to the CPU build of torch 2.13.0),
its C++ library fails to load, and the import then dies registering fake kernels for two
operators that were never defined (``RuntimeError: operator torchvision::nms does not exist``).

``import_torchvision()`` first tries the plain import. Only when it fails in exactly that way does
it define the two operator schemas (``torchvision::nms`` and ``torchvision::qnms``) through
``torch.library``, give ``nms`` a small pure-PyTorch kernel, import torchvision again, and let
``torchvision.ops.nms`` (and ``batched_nms``) through its "compiled ops present" check. Every other
compiled operator (RoI align, deformable convolution, ...) still reports itself missing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

__all__ = ["import_torchvision", "patched"]

_LIBRARY: Any = None  # the torch.library.Library holding our definitions (kept alive here)
_PATCHED = False


def patched() -> bool:
    """Whether this process imported torchvision through the workaround."""
    return _PATCHED


def _nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    """Greedy non-maximum suppression: indices of kept boxes (int64), by decreasing score.

    boxes: (N, 4) ``x1, y1, x2, y2``; scores: (N,). Same contract as torchvision's kernel.
    """
    import torch

    order = torch.argsort(scores, descending=True, stable=True)
    if boxes.numel() == 0:
        return order.to(torch.long)
    b = boxes[order].to(torch.float64)
    area = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt = torch.maximum(b[:, None, :2], b[None, :, :2])
    rb = torch.minimum(b[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    iou = inter / (area[:, None] + area[None, :] - inter).clamp(min=1e-12)
    suppressed = torch.zeros(len(b), dtype=torch.bool, device=b.device)
    keep = []
    for i in range(len(b)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long, device=order.device)]


def _define_operators() -> None:
    global _LIBRARY
    import torch

    if _LIBRARY is not None:
        return
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")  # schema only
    for key in ("CPU", "CUDA"):
        lib.impl("nms", _nms, key)
    _LIBRARY = lib


def _missing_operator_error(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, RuntimeError) and "torchvision::" in text and "does not exist" in text


def import_torchvision() -> ModuleType | None:
    """``torchvision``, imported (with the workaround only if needed); None when not installed.

    Errors other than the missing-operator one propagate unchanged.
    """
    global _PATCHED
    if "torchvision" in sys.modules and sys.modules["torchvision"] is not None:
        return sys.modules["torchvision"]
    if importlib.util.find_spec("torchvision") is None:
        return None
    try:
        return importlib.import_module("torchvision")
    except RuntimeError as exc:
        if not _missing_operator_error(exc):
            raise
    # drop the half-imported package, define what its import needs, and import it again
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]
    _define_operators()
    tv = importlib.import_module("torchvision")
    boxes = importlib.import_module("torchvision.ops.boxes")
    boxes._assert_has_ops = lambda: None  # nms now has a kernel; other ops keep their check
    _PATCHED = True
    return tv
