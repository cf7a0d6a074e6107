"""Finding people with BlazePose's person detector and landmark model run directly in LiteRT.

MediaPipe's ``PoseLandmarker`` finds people in an image with two models from the ``mediapipe``
wheel: a person detector (``pose_detection.tflite``) and, on each person it reports, the landmark
model (``pose_landmark_full.tflite``). `find_people` does the same with both models in LiteRT's
interpreter (``ai-edge-litert``), without MediaPipe's graph and without importing ``mediapipe``
(0.5 s of start-up):

- the image is scaled to fit 224x224 pixels, keeping its shape (the rest black), values in [-1, 1];
- the detector scores 2,254 fixed anchors (SSD anchors at strides 8, 16 and 32 over the 224-pixel
  input: 28x28 cells with 2 anchors, 14x14 with 2, 7x7 with 6) and regresses from each a box and
  4 key points (middle of the hips, a point setting the whole body's size and turn, middle of the
  shoulders, a point setting the upper body's); scores are the sigmoid of the logit (clipped to
  +-100), those under `min_score` are dropped;
- overlapping detections (intersection over union above 0.3) are merged, most confident first,
  into their score-weighted mean (weighted non-maximum suppression); at most `max_people` are kept;
- each person's region for the landmark model is a square centred on the middle of the hips, 2.5
  times the distance to the size point wide, turned so that this line points up (MediaPipe: twice
  the distance, then 1.25x), and the landmark model runs there once (`BlazePoseFollower`): the
  person counts when its presence score reaches `min_presence`.

These are MediaPipe's settings for BlazePose; on frames of ``../shared/data/videos`` the people and
landmarks found agree with MediaPipe's own ``PoseLandmarker`` (``tests/test_pose2d_blazepose_detector.py``).
A person found comes with the `BlazePoseFollower` that found them, ready to follow them on the
next frame from the region its landmarks set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.pose2d.blazepose_follower import REGION_SCALE, BlazePoseFollower, LandmarkModel, _turn
from posemoe.errors import PoseMoEError

INPUT = 224  # the detector's input side, pixels
STRIDES = (8, 16, 32, 32, 32)  # SSD layers; consecutive layers of one stride share their cells
ANCHORS_PER_LAYER = 2  # one anchor of aspect ratio 1 plus one interpolated scale, per layer and cell
NMS_IOU = 0.5  # detections overlapping more than this are one person (see `weighted_nms`)
SCORE_CLIP = 100.0  # logits are clipped to +-this before the sigmoid


def anchor_centres(size: int = INPUT, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """(N, 2) anchor centres (x, y) as fractions of the input side, in the detector's output order:
    stride by stride (equal consecutive strides together), row by row, cell by cell, anchor by anchor."""
    centres = []
    i = 0
    while i < len(strides):
        layers = 1
        while i + layers < len(strides) and strides[i + layers] == strides[i]:
            layers += 1
        cells = int(np.ceil(size / strides[i]))
        y, x = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(x.ravel() + 0.5) / cells, (y.ravel() + 0.5) / cells], axis=1)
        centres.append(np.repeat(grid, ANCHORS_PER_LAYER * layers, axis=0))
        i += layers
    return np.concatenate(centres).astype(np.float64)


@dataclass
class PersonDetection:
    """One person as the detector sees them, in image pixels: `score` in [0, 1], `box` (x0, y0, x1,
    y1) and `keypoints` (4, 2): middle of the hips, the whole body's size point, middle of the
    shoulders, the upper body's size point."""

    score: float
    box: np.ndarray
    keypoints: np.ndarray

    def region(self) -> tuple[float, float, float, float]:
        """The landmark model's region: centre x, y, side (pixels) and turn (radians)."""
        centre, point = self.keypoints[0], self.keypoints[1]
        return (float(centre[0]), float(centre[1]), REGION_SCALE * float(np.linalg.norm(point - centre)),
                _turn(point - centre))


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0.0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0.0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, iou: float = NMS_IOU,
                 limit: int | None = None) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Merge overlapping detections: the most confident one left takes every other overlapping it
    by more than `iou`, and becomes their score-weighted mean box and key points with its own
    score. (scores (N,), boxes (N, 4), keypoints (N, K, 2)) -> up to `limit` (score, box, keypoints),
    most confident first."""
    order = np.argsort(-scores, kind="stable")
    out = []
    while order.size and (limit is None or len(out) < limit):
        top = order[0]
        same = _iou(boxes[top], boxes[order]) > iou
        same[0] = True
        group, order = order[same], order[~same]
        w = scores[group] / scores[group].sum()
        out.append((float(scores[top]), (w[:, None] * boxes[group]).sum(axis=0),
                    (w[:, None, None] * keypoints[group]).sum(axis=0)))
    return out


class PoseDetector:
    """BlazePose's person detector in LiteRT's interpreter, on one thread (one image at a time)."""

    def __init__(self, model: Path) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise PoseMoEError(f"the mediapipe backend's LiteRT models need LiteRT ({exc}); "
                               "install it with: pip install ai-edge-litert") from None
        self.interpreter = it = Interpreter(model_path=str(model), num_threads=1)
        it.allocate_tensors()
        self._input = it.get_input_details()[0]["index"]
        outputs = {d["name"]: d for d in it.get_output_details()}
        self._boxes, self._scores = outputs["Identity"]["index"], outputs["Identity_1"]["index"]
        if tuple(outputs["Identity"]["shape"][1:]) != (len(ANCHORS), 12):
            raise PoseMoEError(f"{model}: not BlazePose's person detector (outputs {outputs['Identity']['shape']}); "
                               "reinstall mediapipe: pip install --force-reinstall mediapipe==0.10.21")

    def __call__(self, rgb: np.ndarray, min_score: float = 0.3, limit: int | None = None) -> list[PersonDetection]:
        """The people in an (H, W, 3) uint8 RGB image, most confident first (image pixels)."""
        import cv2

        h, w = rgb.shape[:2]
        scale = INPUT / max(w, h)
        dx, dy = (INPUT - w * scale) / 2.0, (INPUT - h * scale) / 2.0
        m = np.array([[scale, 0.0, dx], [0.0, scale, dy]])
        view = cv2.warpAffine(rgb, m, (INPUT, INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=0)
        it = self.interpreter
        it.set_tensor(self._input, (view.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0))[None])
        it.invoke()
        logits = it.get_tensor(self._scores).reshape(-1).astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -SCORE_CLIP, SCORE_CLIP)))
        keep = np.flatnonzero(scores >= min_score)
        if keep.size == 0:
            return []
        raw = it.get_tensor(self._boxes)[0, keep].astype(np.float64)  # (k, 12), input pixels from the anchor
        centres = ANCHORS[keep] * INPUT
        xy = raw[:, 0:2] + centres
        half = raw[:, 2:4] / 2.0
        boxes = np.concatenate([xy - half, xy + half], axis=1)
        points = raw[:, 4:12].reshape(-1, 4, 2) + centres[:, None, :]
        people = []
        for score, box, kp in weighted_nms(scores[keep], boxes, points, limit=limit):
            # from the letterboxed input back to image pixels
            people.append(PersonDetection(score, (box.reshape(2, 2) - (dx, dy)).reshape(4) / scale,
                                          (kp - (dx, dy)) / scale))
        return people


ANCHORS = anchor_centres()


def find_people(detector: PoseDetector, landmarks: LandmarkModel, image: np.ndarray, origin: tuple[int, int] = (0, 0),
                *, min_score: float = 0.3, limit: int | None = None, min_presence: float = 0.5,
                t: float = 0.0) -> list[tuple[np.ndarray, BlazePoseFollower]]:
    """The people in `image` (a crop of a frame whose top-left pixel is `origin`), most confident
    detection first: each as the 33 body landmarks (x, y, visibility) in frame pixels and the
    `BlazePoseFollower` that found them (at time `t` seconds), ready to follow them."""
    found = []
    for person in detector(image, min_score, limit):
        cx, cy, side, turn = person.region()
        if not (np.isfinite([cx, cy, side, turn]).all() and side > 1.0):
            continue
        follower = BlazePoseFollower(min_presence)
        follower.start_region((cx + origin[0], cy + origin[1], side, turn))
        body = follower.track(landmarks, image, origin, t)
        if body is not None:
            found.append((body, follower))
    return found
