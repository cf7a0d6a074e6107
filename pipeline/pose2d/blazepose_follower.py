"""Following one person with BlazePose's landmark model run directly in TensorFlow Lite (LiteRT).

MediaPipe's ``PoseLandmarker`` in video mode spends about 21 CPU-ms a frame following a person, of
which its landmark model takes 14-16 ms when run on its own. `BlazePoseFollower` runs the same model
file (``pose_landmark_full.tflite`` from the ``mediapipe`` wheel) in LiteRT's interpreter
(``ai-edge-litert``) and does around it what MediaPipe's graph does when it follows a person:

- the region of interest: a square centred on the model's first alignment landmark (the middle of
  the hips), 2.5 times the distance to its second alignment landmark wide (MediaPipe: twice that
  distance, then 1.25x), turned so that the line between the two points is upright;
- the input: that region warped to 256x256 pixels, values in [0, 1], zero outside the frame;
- the output: 39 landmarks in input pixels (33 body landmarks, the 2 alignment points, 4 unused),
  each refined from the model's 64x64 heatmaps (the confidence-weighted mean position in a 7x7
  window, where the window's peak confidence is at least 0.5), mapped back to the frame; the
  visibility is the sigmoid of its logit; the person is lost when the model's presence score
  falls under `min_presence`;
- smoothing over time: a one-euro filter on the body landmarks (minimum cutoff 0.05 Hz, beta 80,
  derivative cutoff 1 Hz, speeds divided by the person's size), a slower one on the alignment
  points that set the next region (0.01 Hz, beta 10), and a low-pass filter on the visibility
  (alpha 0.1): MediaPipe's settings for BlazePose.

Measured on one person of ``dribble_portrait.mp4``: 16.5-17.6 instead of 21.1-22.5 CPU-ms a frame,
landmarks 0.7-0.9 % of the person's height from MediaPipe's. The backend (`pipeline.pose2d.mediapipe`)
starts a follower from a person's landmarks and goes back to MediaPipe's landmarker when the
follower loses them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from posemoe.errors import PoseMoEError

INPUT = 256  # the model's input side, pixels
HEATMAP = 64  # the heatmaps' side
ALIGN = (33, 34)  # the alignment landmarks: the middle of the hips, and the point that sets size and turn
REGION_SCALE = 2.5  # region side / distance between the alignment landmarks
START_MAX_TURN = math.radians(60.0)
REFINE_KERNEL = 7
REFINE_MIN_CONFIDENCE = 0.5


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class LandmarkModel:
    """The landmark model in LiteRT's interpreter, on one thread. It keeps no state between runs,
    so any follower may use it; one model runs one image at a time (the backend keeps one per
    worker thread)."""

    def __init__(self, model: Path | bytes) -> None:
        """`model`: the model file, or its contents (the lean model of
        `pipeline.pose2d.blazepose_lean` where the cache cannot hold it)."""
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise PoseMoEError(f"the mediapipe backend's follower needs LiteRT ({exc}); "
                               "install it with: pip install ai-edge-litert") from None
        if isinstance(model, (bytes, bytearray)):
            self.interpreter = it = Interpreter(model_content=bytes(model), num_threads=1)
        else:
            self.interpreter = it = Interpreter(model_path=str(model), num_threads=1)
        it.allocate_tensors()
        outputs = {d["name"]: d["index"] for d in it.get_output_details()}
        self._input = it.get_input_details()[0]["index"]
        self._landmarks, self._presence, self._heatmaps = outputs["Identity"], outputs["Identity_1"], outputs["Identity_3"]

    def __call__(self, view: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(256, 256, 3) uint8 RGB -> presence score, landmarks (39, 5) in input pixels, heatmaps (64, 64, 39)."""
        it = self.interpreter
        it.set_tensor(self._input, (view.astype(np.float32) * np.float32(1.0 / 255.0))[None])
        it.invoke()
        # get_tensor returns copies: nothing here is overwritten by the next run
        presence = float(it.get_tensor(self._presence).reshape(-1)[0])
        return presence, it.get_tensor(self._landmarks).reshape(-1, 5), it.get_tensor(self._heatmaps)[0]


class OneEuroFilter:
    """A one-euro filter (Casiez et al. 2012) over arrays, as MediaPipe's landmark smoothing runs
    it: the cutoff rises with the speed of the raw values (times `value_scale`, in units per
    second), so slow motion is smoothed hard and fast motion passes with little lag."""

    def __init__(self, min_cutoff: float, beta: float, derivative_cutoff: float) -> None:
        self.min_cutoff, self.beta, self.derivative_cutoff = min_cutoff, beta, derivative_cutoff
        self.value: np.ndarray | None = None
        self.raw: np.ndarray | None = None
        self.speed: np.ndarray | float = 0.0

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, dt: float, value_scale: float = 1.0) -> np.ndarray:
        if self.value is None or dt <= 0:
            self.value, self.raw, self.speed = x.copy(), x.copy(), 0.0
            return x.copy()
        speed = (x - self.raw) * value_scale / dt
        a = self._alpha(self.derivative_cutoff, dt)
        self.speed = a * speed + (1.0 - a) * self.speed
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self.speed), dt)
        self.value = a * x + (1.0 - a) * self.value
        self.raw = x.copy()
        return self.value.copy()


class BlazePoseFollower:
    """One person followed from frame to frame (see the module docstring).

    `start(keypoints17, scores17)` sets the first region from Human3.6M-17 keypoints in frame
    pixels; `region(w, h)` is the frame area the next `track` needs (x0, y0, x1, y1); `track(model,
    crop, origin, t)` runs the `LandmarkModel` on that area of the frame (a crop whose top-left
    pixel is `origin` in the frame, other people possibly greyed out) at time `t` seconds and
    returns the 33 body landmarks (x, y, visibility) in frame pixels, or None when the person is
    lost (then `active` is False until the next `start`). `presence`: the model's last score."""

    def __init__(self, min_presence: float = 0.5) -> None:
        self.min_presence = float(min_presence)
        self.presence: float | None = None
        self.roi: tuple[float, float, float, float] | None = None  # centre x, y, side (pixels), turn (radians)
        self._t: float | None = None
        self._body = OneEuroFilter(0.05, 80.0, 1.0)
        self._align = OneEuroFilter(0.01, 10.0, 1.0)
        self._visibility: np.ndarray | None = None

    @property
    def active(self) -> bool:
        return self.roi is not None

    def start(self, keypoints17: np.ndarray, scores17: np.ndarray, min_score: float = 0.3) -> None:
        """First region from Human3.6M-17 keypoints: centred on the pelvis, turned so that pelvis
        -> thorax is upright, 2.5 times the farthest confident joint's distance from the pelvis wide."""
        kp = np.asarray(keypoints17, dtype=np.float64)
        ok = (np.asarray(scores17) >= min_score) & np.isfinite(kp).all(axis=1)
        centre, up = kp[0], kp[8] - kp[0]
        reach = float(np.max(np.linalg.norm(kp[ok] - centre, axis=1))) if ok.any() else 0.0
        if not (np.isfinite(centre).all() and reach > 1.0 and np.isfinite(up).all()):
            self.stop()
            return
        turn = _turn(up)
        # a person found by discovery stands roughly upright; a turn beyond START_MAX_TURN comes from
        # keypoints too poor to set it (a small, far person), and the region starts upright instead
        if abs(turn) > START_MAX_TURN:
            turn = 0.0
        self.start_region((centre[0], centre[1], REGION_SCALE * reach, turn))

    def start_region(self, roi: tuple[float, float, float, float]) -> None:
        """First region as given (centre x, y, side in pixels, turn in radians): a person detector's."""
        self.roi = tuple(float(v) for v in roi)
        self._t = None
        self._body = OneEuroFilter(0.05, 80.0, 1.0)
        self._align = OneEuroFilter(0.01, 10.0, 1.0)
        self._visibility = None

    def stop(self) -> None:
        self.roi = None

    def region(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The frame pixels the turned region covers (its bounding box, within the frame)."""
        cx, cy, side, turn = self.roi
        half = 0.5 * side * (abs(math.cos(turn)) + abs(math.sin(turn)))
        x0, y0 = max(0, int(math.floor(cx - half))), max(0, int(math.floor(cy - half)))
        x1, y1 = min(width, int(math.ceil(cx + half)) + 1), min(height, int(math.ceil(cy + half)) + 1)
        return x0, y0, max(x0 + 1, x1), max(y0 + 1, y1)

    def _affine(self, origin: tuple[int, int]) -> np.ndarray:
        """2x3 map from model-input pixels to crop pixels."""
        cx, cy, side, turn = self.roi
        s = side / INPUT
        c, si = math.cos(turn), math.sin(turn)
        m = np.array([[s * c, -s * si, 0.0], [s * si, s * c, 0.0]])
        m[:, 2] = np.array([cx - origin[0], cy - origin[1]]) - m[:, :2] @ np.array([INPUT / 2, INPUT / 2])
        return m

    def track(self, model: LandmarkModel, crop: np.ndarray, origin: tuple[int, int], t: float) -> np.ndarray | None:
        import cv2

        if self.roi is None:
            return None
        m = self._affine(origin)
        view = cv2.warpAffine(crop, m, (INPUT, INPUT), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        self.presence, raw, heatmaps = model(view)
        if self.presence < self.min_presence:
            self.stop()
            return None
        xy = _refine(raw[:, :2].astype(np.float64), heatmaps)
        xy = np.c_[xy, np.ones(len(xy))] @ m.T + np.asarray(origin, dtype=np.float64)  # frame pixels
        visibility = _sigmoid(raw[:33, 3].astype(np.float64))
        dt = 0.0 if self._t is None else t - self._t
        self._t = t
        body = xy[:33]
        size = 0.5 * (np.ptp(body[:, 0]) + np.ptp(body[:, 1]))
        scale = 1.0 / size if size > 0 else 1.0
        body = self._body(body, dt, scale)
        align = self._align(xy[list(ALIGN)], dt, scale)
        if self._visibility is None or dt <= 0:
            self._visibility = visibility
        else:
            self._visibility = 0.1 * visibility + 0.9 * self._visibility
        centre, point = align
        side = REGION_SCALE * float(np.linalg.norm(point - centre))
        if not (np.isfinite(body).all() and side > 1.0):
            self.stop()
            return None
        self.roi = (float(centre[0]), float(centre[1]), side, _turn(point - centre))
        return np.c_[body, self._visibility]


def _turn(up: np.ndarray) -> float:
    """The region's turn (radians) that makes the image direction `up` point up in the model's input."""
    angle = math.pi / 2 - math.atan2(-float(up[1]), float(up[0]))
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _refine(xy: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Landmarks (N, 2) in input pixels refined from the (64, 64, >=N) heatmaps (module docstring):
    each landmark's 7x7 window of heatmap cells around it (cells outside the heatmap left out)."""
    cell = INPUT / HEATMAP
    r = REFINE_KERNEL // 2
    n = len(xy)
    # the window's centre cell, as int() truncates; far outside, the window holds no cell at all
    centre = np.clip(np.trunc(xy / cell), -r - 1, HEATMAP + r).astype(np.int64)  # (N, 2): col, row
    offsets = np.arange(-r, r + 1)
    cols = centre[:, 0, None] + offsets  # (N, K)
    rows = centre[:, 1, None] + offsets
    inside = ((rows >= 0) & (rows < HEATMAP))[:, :, None] & ((cols >= 0) & (cols < HEATMAP))[:, None, :]
    cells = heatmaps[np.clip(rows, 0, HEATMAP - 1)[:, :, None], np.clip(cols, 0, HEATMAP - 1)[:, None, :],
                     np.arange(n)[:, None, None]].astype(np.float64)  # (N, K, K)
    w = _sigmoid(cells) * inside  # cells outside the heatmap weigh nothing
    total = w.sum(axis=(1, 2))
    refine = w.max(axis=(1, 2)) >= REFINE_MIN_CONFIDENCE
    out = xy.copy()
    safe = np.where(total > 0, total, 1.0)
    out[refine, 0] = ((w * cols[:, None, :]).sum(axis=(1, 2)) / safe * cell)[refine]
    out[refine, 1] = ((w * rows[:, :, None]).sum(axis=(1, 2)) / safe * cell)[refine]
    return out
