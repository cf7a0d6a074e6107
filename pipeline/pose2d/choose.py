"""Choosing and building a 2D backend: ``BACKENDS``, ``make_backend``, ``resolve_auto``.

This module knows every backend (``pipeline.pose2d.mediapipe``, ``pipeline.pose2d.mmpose``,
``pipeline.pose2d.keypoint_files``); the backends know only ``pipeline.pose2d.base``. The mmpose
module is imported here (it is cheap: OpenMMLab and torch are imported only when a backend is
built); the OpenMMLab stack itself is only looked for (``_openmmlab_installed``) or imported
(``_openmmlab_importable``) when ``"auto"`` or ``"mmpose"`` asks for it.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from typing import Any

from pipeline.pose2d import mmpose as mmpose_backend
from pipeline.pose2d.base import PoseBackend
from pipeline.pose2d.keypoint_files import KeypointFileBackend
from pipeline.pose2d.mediapipe import MediaPipeBackend, MediaPipePeopleBackend
from posemoe.errors import PoseMoEError

__all__ = ["BACKENDS", "MEDIAPIPE_REASON", "make_backend", "resolve_auto"]

BACKENDS = ("auto", "mediapipe", "mmpose", "keypoints")
MEDIAPIPE_REASON = "OpenMMLab stack not installed; using the bundled offline MediaPipe BlazePose (several people)"


def _openmmlab_installed() -> bool:
    """Whether ``mmcv``, ``mmdet`` and ``mmpose`` are installed (found, not imported: cheap)."""
    return all(importlib.util.find_spec(m) is not None for m in ("mmcv", "mmdet", "mmpose"))


_IMPORT_ERROR: list[str] = []  # why the stack did not import (filled by _openmmlab_importable)


@lru_cache(maxsize=1)
def _openmmlab_importable() -> bool:
    """Whether the OpenMMLab stack imports (mmdet, mmpose and their torchvision; once per process)."""
    if not _openmmlab_installed():
        return False
    try:
        mmpose_backend.import_openmmlab()
    except PoseMoEError as exc:  # a broken install (e.g. mmcv built for another torch) counts as absent
        _IMPORT_ERROR[:] = [str(exc)]
        return False
    return True


def _mmpose_weights_cached() -> bool:
    """Whether both checkpoints the mmpose backend loads are in its cache folder."""
    specs = (mmpose_backend.DETECTOR, mmpose_backend.POSE_MODEL)
    return all(mmpose_backend.cached(spec) is not None for spec in specs)


def resolve_auto(det_weights: str | os.PathLike | None = None,
                 pose_weights: str | os.PathLike | None = None) -> tuple[str, str]:
    """The backend ``"auto"`` stands for here, and why: ``(name, one-line reason)``.

    "mmpose" (multi-person) when the OpenMMLab stack is installed and imports, and its two
    checkpoints are given (``det_weights``, ``pose_weights``), cached, or fetched by one quick
    download attempt (a failed attempt is remembered for a while: see
    ``pipeline.pose2d.mmpose.auto_choice``); otherwise "mediapipe".
    """
    if not _openmmlab_installed():
        return "mediapipe", MEDIAPIPE_REASON
    fallback = "using the bundled offline MediaPipe BlazePose (several people)"
    if det_weights is None and pose_weights is None and _mmpose_weights_cached():
        ok, why = True, f"its weights cached in {mmpose_backend.cache_dir()}"
    else:
        ok, why = mmpose_backend.auto_choice(det_weights, pose_weights)
    if not ok:
        return "mediapipe", f"OpenMMLab stack installed but {why}; {fallback}"
    if not _openmmlab_importable():
        detail = _IMPORT_ERROR[0] if _IMPORT_ERROR else "import failed"
        return "mediapipe", f"OpenMMLab stack installed but it does not import ({detail}); {fallback}"
    return "mmpose", f"OpenMMLab stack installed, {why}; using mmpose (RTMDet + RTMPose-m, several people)"


def _make_mmpose(**kwargs: Any) -> PoseBackend:
    if not _openmmlab_installed():
        raise PoseMoEError(
            "the mmpose backend needs the OpenMMLab stack (mmcv, mmdet, mmpose), which is not installed "
            "(./setup.sh installs it); use --pose2d mediapipe"
        )
    return mmpose_backend.MMPoseBackend(**kwargs)


def _lite_takes(kwargs: dict) -> bool:
    """Whether the several-people backend runs its models in LiteRT and takes these options: then
    it is also the faster way to follow one person (``tennis.mp4`` with ``--max-people 1``: 5.9
    instead of 9.1 s with MediaPipe's single-person solution, whole command, the same player)."""
    import inspect

    if importlib.util.find_spec("ai_edge_litert") is None:
        return False
    return set(kwargs) <= set(inspect.signature(MediaPipePeopleBackend.__init__).parameters) - {"self"}


def make_backend(name: str, **kwargs: Any) -> PoseBackend:
    """The 2D backend called ``name`` (one of ``BACKENDS``), built with ``kwargs``.

    "mediapipe": ``MediaPipePeopleBackend(**kwargs)``; with ``max_people=1`` and without LiteRT (or
    with options only it takes), the single-person ``MediaPipeBackend(**kwargs)``; "keypoints":
    ``KeypointFileBackend(path=...)``;
    "mmpose": ``MMPoseBackend(**kwargs)`` (det_weights, pose_weights, device, ...); "auto":
    whichever ``resolve_auto()`` picks (the mmpose-only options are dropped for mediapipe).
    """
    if name == "auto":
        name, _ = resolve_auto(kwargs.get("det_weights"), kwargs.get("pose_weights"))
        if name != "mmpose":  # options only the mmpose backend understands
            for key in ("det_weights", "pose_weights", "device"):
                kwargs.pop(key, None)
    if name != "mediapipe":
        kwargs.pop("max_people", None)  # the other backends find everyone; the tracker keeps the best
    if name == "mediapipe":
        people = kwargs.pop("max_people", None)
        if people == 1 and not _lite_takes(kwargs):
            return MediaPipeBackend(**kwargs)
        return MediaPipePeopleBackend(**kwargs) if people is None else MediaPipePeopleBackend(max_people=people, **kwargs)
    if name == "mmpose":
        return _make_mmpose(**kwargs)
    if name == "keypoints":
        if kwargs.get("path") is None:
            raise PoseMoEError("the keypoints 2D backend needs a keypoints file (path=...): our .npz/.json export "
                               "or mmpose's prediction JSON")
        return KeypointFileBackend(**kwargs)
    raise PoseMoEError(f"2D pose backend: expected one of {', '.join(BACKENDS)}, found {name!r}")
