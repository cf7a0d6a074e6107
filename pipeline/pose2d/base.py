"""What every 2D backend shares: the ``PoseBackend`` interface and the ``Detection`` it returns.

A backend is called once per frame, in order, and returns the people it found in that frame as
``Detection`` objects: H36M17 keypoints (17, 2) in pixels of the given frame, per-joint scores in
[0, 1], a box and a person score. ``pipeline.track.Tracker`` links them into tracks. Each backend
module imports its interface and its output type from this one module and from no other backend;
the box helpers the backends and the tracker share (``box_from_keypoints``, ``box_iou``) are here
too.

Also here: ``check_frame`` (the frame check every backend applies, with the same one-line error)
and ``user_cache_root`` (the per-user cache folder downloaded weights and built bundles go to).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17

__all__ = [
    "NUM_JOINTS",
    "Detection",
    "PoseBackend",
    "box_from_keypoints",
    "box_area",
    "box_iou",
    "check_frame",
    "user_cache_root",
]


NUM_JOINTS = H36M17.num_joints  # 17
DEFAULT_JOINT_THRESHOLD = 0.3  # joints scoring at least this count as found (boxes, tracking)


def box_from_keypoints(
    kp: np.ndarray, scores: np.ndarray, thr: float = DEFAULT_JOINT_THRESHOLD, margin: float = 0.1
) -> np.ndarray:
    """Bounding box of the visible keypoints, enlarged by ``margin`` of its size on each side.

    kp: (17, 2) pixels; scores: (17,) in [0, 1]. Joints with score >= ``thr`` (and finite
    coordinates) are used; if none qualifies, all finite joints are. Each side is pushed out by
    ``margin`` times the box width (left/right) or height (top/bottom); the box is at least 1 px
    wide and high (centred on the joints). Returns (4,) float64 ``x0, y0, x1, y1`` pixels.
    """
    kp = np.asarray(kp, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(kp).all(axis=-1)
    use = finite & (scores >= thr)
    if not use.any():
        use = finite
    if not use.any():
        raise PoseMoEError(
            "box_from_keypoints: no finite keypoint to build a box from; pass the detector's box instead"
        )
    pts = kp[use]
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    w, h = x1 - x0, y1 - y0
    x0, x1 = x0 - margin * w, x1 + margin * w
    y0, y1 = y0 - margin * h, y1 + margin * h
    if x1 - x0 < 1.0:
        cx = 0.5 * (x0 + x1)
        x0, x1 = cx - 0.5, cx + 0.5
    if y1 - y0 < 1.0:
        cy = 0.5 * (y0 + y1)
        y0, y1 = cy - 0.5, cy + 0.5
    return np.array([x0, y0, x1, y1], dtype=np.float64)


@dataclass
class Detection:
    """One person found by the 2D detector in one frame.

    keypoints: (17, 2) float pixels, H36M17 order. Non-finite coordinates are allowed (a joint the
        backend did not find); their score is set to 0.
    scores: (17,) per-joint confidence in [0, 1] (values outside are clipped).
    box: (4,) ``x0, y0, x1, y1`` pixels; when the backend gives none (``None``), it is derived from
        the keypoints scoring >= 0.3 with ``box_from_keypoints`` (10% margin).
    score: person confidence; when ``None``, the mean joint score.
    appearance: optional description of what the person looks like (``pipeline.appearance``),
        used to recognise them when they come back after a long absence.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    box: np.ndarray | None = None
    score: float | None = None
    appearance: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.appearance is not None:
            look = np.asarray(self.appearance, dtype=np.float32).reshape(-1)
            if look.size == 0 or not np.isfinite(look).all():
                raise PoseMoEError("Detection: appearance must be a non-empty array of finite numbers, or None")
            self.appearance = look
        kp = np.array(self.keypoints, dtype=np.float64)
        sc = np.array(self.scores, dtype=np.float64)
        if kp.shape != (NUM_JOINTS, 2):
            raise PoseMoEError(
                f"Detection: keypoints must have shape ({NUM_JOINTS}, 2) in H36M17 order, found {kp.shape}; "
                "convert the detector's layout first (e.g. posemoe.skeleton.coco17_to_h36m17)"
            )
        if sc.shape != (NUM_JOINTS,):
            raise PoseMoEError(f"Detection: scores must have shape ({NUM_JOINTS},), found {sc.shape}")
        sc = np.where(np.isfinite(sc), sc, 0.0)
        sc = np.clip(sc, 0.0, 1.0)
        sc[~np.isfinite(kp).all(axis=-1)] = 0.0
        self.keypoints = kp
        self.scores = sc
        if self.box is None:
            self.box = box_from_keypoints(kp, sc, DEFAULT_JOINT_THRESHOLD, margin=0.1)
        else:
            box = np.array(self.box, dtype=np.float64).reshape(-1)
            if box.shape != (4,) or not np.isfinite(box).all() or box[2] < box[0] or box[3] < box[1]:
                raise PoseMoEError(
                    f"Detection: box must be 4 finite numbers x0, y0, x1, y1 with x1 >= x0 and y1 >= y0, "
                    f"found {np.array(self.box).tolist()}; pass box=None to derive it from the keypoints"
                )
            self.box = box
        if self.score is None:
            self.score = float(sc.mean())
        else:
            score = float(self.score)
            if not np.isfinite(score):
                raise PoseMoEError(f"Detection: person score must be a finite number, found {self.score!r}")
            self.score = score


def box_area(box: np.ndarray) -> float:
    """Area of a (4,) ``x0, y0, x1, y1`` box in square pixels (0 for an empty box)."""
    return float(max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0))


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (4,) xyxy boxes; 0 when both are empty."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    union = box_area(a) + box_area(b) - inter
    return float(inter / union) if union > 0 else 0.0


class PoseBackend(ABC):
    """A 2D keypoint detector: frame in, people (``Detection``, H36M17, pixels) out.

    name: the backend's name in ``pipeline.pose2d.BACKENDS``. multi_person: whether it can return
    more than one person per frame. input_format: the pixel format it works in, "bgr24" or
    "rgb24"; an "rgb24" backend is best fed with ``detect_rgb`` (no colour conversion), e.g. from
    ``VideoReader(path, "rgb24")``. Call it with each frame in order; ``close()`` frees its
    resources (also done by leaving a ``with`` block).
    """

    name: str = ""
    multi_person: bool = False
    input_format: str = "bgr24"

    @abstractmethod
    def __call__(self, frame_bgr: np.ndarray | None, frame_index: int) -> list[Detection]:
        """The people in one frame.

        frame_bgr: (H, W, 3) uint8 BGR image (backends that do not look at pixels accept None).
        frame_index: 0-based index of the frame in the video.
        Returns one ``Detection`` per person: keypoints (17, 2) H36M17 pixels of this frame,
        scores (17,) in [0, 1].
        """

    def detect_rgb(self, frame_rgb: np.ndarray, frame_index: int) -> list[Detection]:
        """``__call__`` for an (H, W, 3) uint8 RGB frame.

        This default swaps the channels and calls the backend; RGB backends (``input_format``
        "rgb24") override it to take the frame as it is.
        """
        frame = check_frame(frame_rgb, type(self).__name__)
        return self(np.ascontiguousarray(frame[..., ::-1]), frame_index)

    def close(self) -> None:
        """Free the backend's resources; calling it again does nothing."""

    def __enter__(self) -> PoseBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_frame(frame: Any, who: str) -> np.ndarray:
    """``frame`` as an (H, W, 3) uint8 array, or a one-line ``PoseMoEError`` starting with ``who``."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 \
            or frame.dtype != np.uint8 or frame.shape[0] < 1 or frame.shape[1] < 1:
        found = (f"{frame.dtype} array of shape {frame.shape}" if isinstance(frame, np.ndarray)
                 else type(frame).__name__)
        raise PoseMoEError(f"{who}: expected a frame as a uint8 (H, W, 3) BGR array, found {found}")
    return frame


def user_cache_root() -> Path:
    """posemoe's per-user cache folder (``platformdirs``): ``~/.cache/posemoe`` on Linux, or
    ``$XDG_CACHE_HOME/posemoe`` when that is set; not created here. Each backend keeps its files
    in a subfolder and has its own environment variable to move it."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("posemoe")).expanduser()
