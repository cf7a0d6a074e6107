"""2D keypoints for every video frame: one interface, several backends.

A backend is called once per frame, in order, and returns the people it found in that frame as
``Detection`` objects: H36M17 keypoints (17, 2) in pixels of the given frame, per-joint scores in
[0, 1], a box and a person score. ``pipeline.track.Tracker`` links them. Every backend is a
``PoseBackend`` (``backend(frame_bgr, frame_index)``, ``detect_rgb``, ``close()``) and a context
manager (``with make_backend(...) as backend:``).

Backends (``make_backend(name, **kwargs)``), and the module that holds each:

* ``"mediapipe"`` -> ``MediaPipePeopleBackend`` (``pipeline.pose2d.mediapipe``): MediaPipe's
  BlazePose ("full", from the ``mediapipe`` wheel, offline, on the CPU) for any number of people,
  with tiled discovery for small, far people; its detector and landmark model run in LiteRT
  (``pipeline.pose2d.blazepose_detector``, ``pipeline.pose2d.blazepose_follower``, the landmark
  model trimmed by ``pipeline.pose2d.blazepose_lean``), or without LiteRT in MediaPipe's own
  graphs from a bundle built by ``pipeline.pose2d.mediapipe_bundle``. With ``max_people=1`` and
  without LiteRT, ``MediaPipeBackend`` (same module), MediaPipe's single-person solution in video
  mode. The 33 landmarks are mapped to H36M17 with ``posemoe.skeleton.blazepose33_to_h36m17``.
* ``"keypoints"`` -> ``KeypointFileBackend(path)`` (``pipeline.pose2d.keypoint_files``): no
  detector; reads keypoints computed earlier, either our own results (through
  ``pipeline.export.load_results``) or mmpose's prediction JSON.
* ``"mmpose"`` -> ``MMPoseBackend`` (``pipeline.pose2d.mmpose``): the OpenMMLab RTMDet person
  detector + RTMPose-m COCO-17 top-down model (several people per frame); weights from
  ``--det-weights`` / ``--pose-weights``, a cache folder, or one download (see that module;
  ``pipeline.pose2d._torchvision_compat`` lets torchvision import next to a CPU-only torch).
* ``"auto"``: ``resolve_auto()`` picks mmpose when the OpenMMLab stack is installed and its
  weights are here (or one quick download gets them), else mediapipe, and says why in one line.

The other modules: ``pipeline.pose2d.base`` (``PoseBackend``, ``Detection``, ``check_frame``: all
that the backends share; no backend imports another) and ``pipeline.pose2d.choose``
(``BACKENDS``, ``make_backend``, ``resolve_auto``: the one module that knows every backend).
"""

from __future__ import annotations

from pipeline.pose2d.base import Detection, PoseBackend
from pipeline.pose2d.choose import BACKENDS, make_backend, resolve_auto
from pipeline.pose2d.keypoint_files import KEYPOINT_FILE_JOINTS, KeypointFileBackend
from pipeline.pose2d.mediapipe import MediaPipeBackend, MediaPipePeopleBackend
from pipeline.pose2d.mmpose import MMPoseBackend

__all__ = [
    "BACKENDS",
    "KEYPOINT_FILE_JOINTS",
    "Detection",
    "KeypointFileBackend",
    "MMPoseBackend",
    "MediaPipeBackend",
    "MediaPipePeopleBackend",
    "PoseBackend",
    "make_backend",
    "resolve_auto",
]
