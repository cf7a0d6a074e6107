"""What a person looks like, for telling people apart after they were out of sight.

The tracker links detections frame to frame by where people are; when someone leaves the frame
or is hidden for longer than the tracker's gap, the way back to their old identity is what they
wear. `appearance` describes a detection by two colour histograms of the frame: the torso (the
box of the shoulders and hips) and the legs (hips to knees), each over hue, saturation and value
(8 x 3 x 3 bins, OpenCV's HSV), each summing to 1; `appearance_distance` compares two such
descriptions with the Bhattacharyya distance (0 same colours, 1 nothing in common), averaged over
the two parts. Colours change with light, so this tells apart people who dress differently, not
twins in uniforms; `pipeline.track.Tracker` only uses it together with size and timing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from pipeline.pose2d.base import Detection

BINS = (8, 3, 3)
RANGES = [0, 180, 0, 256, 0, 256]
PART_LENGTH = int(np.prod(BINS))
LENGTH = 2 * PART_LENGTH
_TORSO = (1, 4, 11, 14)  # Human3.6M-17: hips and shoulders
_LEGS = (1, 4, 2, 5)  # hips and knees
MIN_SCORE = 0.5


def _box(pts: np.ndarray, w: int, h: int) -> tuple[int, int, int, int] | None:
    """The integer box around `pts` clipped to a w x h image, or None when under 2 px wide or high."""
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return None if x1 - x0 < 2 or y1 - y0 < 2 else (x0, y0, x1, y1)


def _part(hsv: np.ndarray, kp: np.ndarray, sc: np.ndarray, joints: tuple[int, ...]) -> np.ndarray | None:
    if (sc[list(joints)] < MIN_SCORE).any():
        return None
    box = _box(kp[list(joints)], hsv.shape[1], hsv.shape[0])
    if box is None:
        return None
    x0, y0, x1, y1 = box
    hist = cv2.calcHist([hsv[y0:y1, x0:x1]], [0, 1, 2], None, list(BINS), RANGES).ravel()
    total = hist.sum()
    return hist / total if total > 0 else None


def appearance(frame: np.ndarray, det: "Detection", rgb: bool = False) -> np.ndarray | None:
    """(LENGTH,) float32 description of the detection's clothes in `frame` ((H, W, 3) uint8, BGR,
    or RGB with `rgb`), or None when its torso or legs were not seen well enough."""
    kp, sc = det.keypoints, det.scores
    pts = kp[list(set(_TORSO + _LEGS))]
    if not np.isfinite(pts).all():
        return None
    box = _box(pts, frame.shape[1], frame.shape[0])
    if box is None:
        return None
    x0, y0, x1, y1 = box
    hsv = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2HSV if rgb else cv2.COLOR_BGR2HSV)
    local = kp - [x0, y0]
    torso, legs = _part(hsv, local, sc, _TORSO), _part(hsv, local, sc, _LEGS)
    if torso is None or legs is None:
        return None
    return np.concatenate([torso, legs]).astype(np.float32)


def appearance_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance in [0, 1] of two `appearance` descriptions, mean of the two parts."""
    out = 0.0
    for k in range(2):
        pa = np.ascontiguousarray(a[k * PART_LENGTH:(k + 1) * PART_LENGTH], dtype=np.float32)
        pb = np.ascontiguousarray(b[k * PART_LENGTH:(k + 1) * PART_LENGTH], dtype=np.float32)
        out += cv2.compareHist(pa, pb, cv2.HISTCMP_BHATTACHARYYA)
    return float(out / 2.0)
