"""The MediaPipe 2D backends: BlazePose ("full", from the ``mediapipe`` wheel, offline, on the CPU).

Two backends, both named "mediapipe" (``pipeline.pose2d.make_backend("mediapipe")`` picks one):

- ``MediaPipePeopleBackend``: any number of people, with BlazePose's detector and landmark model
  (below); the default.
- ``MediaPipeBackend``: MediaPipe's older single-person solution in video mode, for
  ``max_people=1`` where LiteRT is not installed (with LiteRT, ``MediaPipePeopleBackend`` with
  ``max_people=1`` follows one person faster: ``pipeline.pose2d.choose.make_backend``).

Both map the 33 landmarks to H36M17 with ``posemoe.skeleton.blazepose33_to_h36m17``.

Several people
--------------

BlazePose is a person detector (a 224x224 view of whatever image it is given), then a 33-landmark
model on each person. Both model files come from the installed ``mediapipe`` wheel. With LiteRT
(``ai-edge-litert``) installed, both run directly in LiteRT's interpreter
(`pipeline.pose2d.blazepose_detector`, `pipeline.pose2d.blazepose_follower`; the landmark model
without the heads nothing here reads, `pipeline.pose2d.blazepose_lean`) and ``mediapipe`` itself
is not even imported (half a second of start-up); without it, MediaPipe's Tasks ``PoseLandmarker``
does the same work from a bundle built out of the wheel (`pipeline.pose2d.mediapipe_bundle`), with
about 1.6 times as much CPU. In a 1920x1080 frame the detector easily misses a person shorter than about a fifth
of the frame's height, and finding people afresh in every frame costs a detector run plus one
landmark run per person.

How people are found and followed here:

- **Discovery**: the first frame is searched whole; after that one region per frame, in turn,
  for `first_rounds` rounds (one), then one every `discover_every` frames (every frame while
  nobody is followed) (`discovery_regions`): the whole frame, then overlapping square tiles of `tile`
  pixels and of twice that, so that small, far people are seen at several times the
  resolution, at the cost of about one detector run per discovery frame. People already followed
  are greyed out in the region first. Except on a frame where nobody is followed yet, a
  discovery runs beside the next frame's followers and its people are followed from that next
  frame on: the worker threads then never wait for a frame's slowest job, and what is found
  does not depend on timing (the result is always collected on the next frame). The detector finds a person
  about a quarter to a half of the height of the image it is given, so with 432-pixel tiles
  people down to about 110 pixels are found within one round (25 frames at 1920x1080, 9 at
  1280x720, twice that once settled).
- **Following**: each person found is followed with the landmark model alone
  (`pipeline.pose2d.blazepose_follower`: the region of interest from the model's own alignment
  landmarks of the frame before, as MediaPipe's graph does it), from the region the landmark run
  that found them set. Where that loses them (the model's presence score under
  `min_tracking_confidence`, or landmarks that do not look like a person), they are looked for
  on the same frame in a crop of the frame around where they were (the box of their last
  landmarks, enlarged by `crop_margin` on each side, or by `small_crop_margin` for a person under
  `small_person` of the frame's height, whom the detector finds only with more of the scene
  around them; at least `min_crop` pixels), with the detector and the landmark model (MediaPipe's
  landmarker in video mode without LiteRT), and followed on from what is found.
  Either way following costs about one landmark run per person and frame. The crop may hold someone else too: the other followed people are greyed out in it except where
  they overlap the person's own box (two people hugging), and the landmarks kept are those
  whose box overlaps the person's previous box most. A person whose landmarks are not found in their
  crop (no box overlapping the previous one by `follow_iou`), or whose follower has drifted
  onto someone already followed, is looked for again in the same place on the next frames and
  dropped after `max_misses` frames in a row (then discovery finds them again).
- **Nearly still people, every other frame**: a person whose joints moved less than
  `hold_motion` (0.5 %) of their height per frame between their last two landmark runs gets no
  landmark run on the next frame (never two frames in a row). That frame first reports a copy
  of their landmarks (the tracker needs it at once), and once the frame after it has run, the
  copy is set in place to the midpoint of the two runs on either side (`between`), which is
  what the tracks keep. Simulated on every-frame runs of the real clips, the midpoint differs
  from a fresh run by 0.28 % of the person's height on average on `tennis.mp4` (95th
  percentile 0.61 %) and 0.23 % on `two_people.mp4` (0.44 %), about half what the plain copy
  differed (0.50 % and 0.43 %). A looser rule (1 %) saved only 3-6 % more time and changed
  who was found and kept on clips played three times in a row (a person lost after the jump
  back to the start), so it is not the default. `hold_motion=0` runs every person on every frame.
- **What counts as a person**: `plausible_person` (enough confident joints, shoulders and
  hips among them, and body proportions that rule out the detector's ghosts); a candidate that is the same as one already kept (boxes
  overlapping by `same_person_iou`, or nearly the same keypoints, or a box lying almost wholly
  inside a more confident person's box with a similar top or bottom edge, a part of that person
  seen as a whole) is not added, and a candidate whose box overlaps a followed person's by
  `new_person_iou`, or who is under `PART_HEIGHT` (0.35) of a followed person's height and
  touches their box (`part_of`: a hand on someone's back, found beside them where they were
  greyed out), is taken for a part of them (people that close are found once they part).

Each `Detection`: the 33 landmarks in frame pixels mapped to Human3.6M-17
(`posemoe.skeleton.blazepose33_to_h36m17`), scores = landmark visibility, box from the
keypoints, person score = mean joint score. Linking detections into tracks with stable ids is
the tracker's work (`pipeline.track.Tracker`).
"""

from __future__ import annotations

import math
import os
import queue
import re
import sys
import tempfile
import threading
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pipeline.pose2d.base import Detection, PoseBackend, box_from_keypoints, box_iou, check_frame
from pipeline.pose2d.mediapipe_bundle import ensure_bundle, wheel_models
from posemoe.errors import PoseMoEError
from posemoe.skeleton import blazepose33_to_h36m17

__all__ = [
    "MEDIAPIPE_REQUIREMENT",
    "MediaPipeBackend",
    "MediaPipePeopleBackend",
    "discovery_regions",
    "part_of",
    "plausible_person",
    "same_person",
    "tile_grid",
]

MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.21"


# ----------------------------------------------------------------------------- both backends

# lines MediaPipe / TF-Lite print on stderr when a graph starts and its models first run
_NATIVE_NOISE = re.compile(
    r"Created TensorFlow Lite XNNPACK delegate|All log messages before absl::InitializeLog\(\)"
    r"|inference_feedback_manager\.cc|landmark_projection_calculator\.cc|gl_context"
)


@contextmanager
def _filtered_native_stderr(enabled: bool = True) -> Iterator[None]:
    """Route file descriptor 2 to a temporary file, then write back what is not known noise.

    Native libraries log straight to fd 2, past ``sys.stderr``; nothing is lost, only the lines
    matching ``_NATIVE_NOISE`` are dropped (and other output is delayed to the block's end).
    """
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError, AttributeError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [line for line in tmp.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not _NATIVE_NOISE.search(line)]
            if kept:
                os.write(2, "".join(kept).encode("utf-8", "replace"))


# ----------------------------------------------------------------------------- single person (solution API)


def _import_mediapipe_pose() -> Any:
    """``mediapipe.solutions.pose``, imported on first use; a one-line error if missing."""
    try:
        from mediapipe.python.solutions import pose as mp_pose
    except ImportError as exc:
        raise PoseMoEError(
            f"the mediapipe 2D backend needs the mediapipe package ({exc}); "
            f"install it with: pip install {MEDIAPIPE_REQUIREMENT}"
        ) from None
    return mp_pose


class MediaPipeBackend(PoseBackend):
    """MediaPipe Pose (BlazePose "full", ``model_complexity=1``) in video mode; one person.

    The model ships inside the mediapipe wheel: it runs offline, on the CPU. In video mode
    MediaPipe finds the person once and then tracks them from frame to frame (re-detecting when
    tracking is lost) and smooths the landmarks over time; the graph is restarted (tracking and
    smoothing forgotten) when frames do not arrive in order (``frame_index`` is not the previous
    one + 1) or the frame size changes.

    min_detection_confidence: minimum person-detector score to start tracking, in [0, 1].
    min_tracking_confidence: minimum landmark-tracking score to keep tracking rather than
        re-detect, in [0, 1].
    smooth_landmarks: MediaPipe's temporal landmark filter.
    quiet: drop MediaPipe's / TF-Lite's start-up log lines from stderr (see
        ``_filtered_native_stderr``).

    Each Detection: the 33 landmarks (normalised x, y times the frame's width, height; they may
    lie outside the frame for joints MediaPipe extrapolates) mapped to H36M17 with
    ``blazepose33_to_h36m17``; scores = landmark visibility (min of the sources for derived
    joints); box from the keypoints (``box_from_keypoints``, joints scoring >= 0.3, 10% margin);
    person score = mean joint score.
    """

    name = "mediapipe"
    multi_person = False

    def __init__(
        self,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        smooth_landmarks: bool = True,
        quiet: bool = True,
    ) -> None:
        for what, value in (("min_detection_confidence", min_detection_confidence),
                            ("min_tracking_confidence", min_tracking_confidence)):
            if not 0.0 <= float(value) <= 1.0:
                raise PoseMoEError(f"MediaPipeBackend: {what} must be in [0, 1], found {value}")
        mp_pose = _import_mediapipe_pose()
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.quiet = bool(quiet)
        self._last_index: int | None = None
        self._last_size: tuple[int, int] | None = None
        self._models_started = False  # both models have run once since the graph (re)started
        with _filtered_native_stderr(self.quiet):
            self._pose: Any = mp_pose.Pose(
                static_image_mode=False,
                model_complexity=1,
                smooth_landmarks=bool(smooth_landmarks),
                enable_segmentation=False,
                min_detection_confidence=self.min_detection_confidence,
                min_tracking_confidence=self.min_tracking_confidence,
            )

    # MediaPipe takes RGB: a caller that can decode straight to RGB calls ``detect_rgb`` instead
    input_format = "rgb24"

    def __call__(self, frame_bgr: np.ndarray | None, frame_index: int) -> list[Detection]:
        """At most one person: ``[Detection]`` or ``[]``. frame_bgr: (H, W, 3) uint8 BGR."""
        import cv2

        frame = check_frame(frame_bgr, "MediaPipeBackend")
        # cv2's conversion is ~10x faster than a numpy channel flip plus copy at 720p
        return self.detect_rgb(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), frame_index)

    def detect_rgb(self, frame_rgb: np.ndarray, frame_index: int) -> list[Detection]:
        """``__call__`` for an (H, W, 3) uint8 RGB frame (e.g. ``VideoReader(path, "rgb24")``): no conversion."""
        if self._pose is None:
            raise PoseMoEError("MediaPipeBackend: called after close(); make a new backend")
        frame = np.ascontiguousarray(check_frame(frame_rgb, "MediaPipeBackend"))
        h, w = frame.shape[:2]
        frame_index = int(frame_index)
        if self._last_index is not None and (frame_index != self._last_index + 1 or (w, h) != self._last_size):
            self._pose.reset()  # a jump or a new size: the previous frame's track means nothing here
            self._models_started = False
        self._last_index, self._last_size = frame_index, (w, h)

        # the noisy lines come while the models first run after a (re)start; filter until then
        with _filtered_native_stderr(self.quiet and not self._models_started):
            result = self._pose.process(frame)
        if result.pose_landmarks is None:
            return []
        self._models_started = True
        lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], dtype=np.float64)
        lm[:, 0] *= w
        lm[:, 1] *= h
        h36m = blazepose33_to_h36m17(lm)  # (17, 3)
        keypoints = h36m[:, :2]
        scores = np.clip(np.nan_to_num(h36m[:, 2], nan=0.0), 0.0, 1.0)
        return [Detection(keypoints, scores, box=box_from_keypoints(keypoints, scores))]

    def close(self) -> None:
        pose, self._pose = getattr(self, "_pose", None), None
        if pose is not None:
            # a graph whose models never ran (no frame, or nobody found) starts them while closing,
            # with the same start-up log lines: filter those too
            with _filtered_native_stderr(getattr(self, "quiet", False) and not getattr(self, "_models_started", True)):
                pose.close()


# ----------------------------------------------------------------------------- several people (Tasks API)


def tile_grid(width: int, height: int, tile: int, overlap: float = 0.2) -> list[tuple[int, int, int, int]]:
    """Square tiles (x0, y0, x1, y1) of side `tile` px covering the frame with at least `overlap`
    of a tile shared between neighbours; none when the frame is not larger than one tile."""
    if tile <= 0 or max(width, height) <= tile * 1.05:
        return []
    side_w, side_h = min(tile, width), min(tile, height)

    def starts(length: int, side: int) -> list[int]:
        if length <= side:
            return [0]
        n = math.ceil((length - side) / (side * (1.0 - overlap))) + 1
        return [round(i * (length - side) / (n - 1)) for i in range(n)]

    return [(x, y, x + side_w, y + side_h) for y in starts(height, side_h) for x in starts(width, side_w)]


def discovery_regions(width: int, height: int, tile: int) -> list[tuple[int, int, int, int]]:
    """The regions discovery searches in turn: the whole frame, then tiles of side `tile`,
    2 * `tile`, 4 * `tile` ... while smaller than the frame's shorter side. The detector finds people about a
    quarter to a half of its image's height, so each level covers the sizes between the next
    smaller and the next larger one. On frames whose shorter side exceeds 2.5 * `tile` (above
    1080p), the smallest tile grows with the frame so that one round stays short."""
    if tile <= 0:
        return [(0, 0, width, height)]
    side = max(tile, round(min(width, height) / 2.5))
    regions = [(0, 0, width, height)]
    while side < min(width, height):  # square tiles only; larger ones are nearly the whole frame
        regions += tile_grid(width, height, side)
        side *= 2
    return regions


def same_person(a: Detection, b: Detection, iou: float) -> bool:
    """Whether `a` is `b` seen again (see the module docstring): boxes overlapping by `iou`,
    keypoints that nearly coincide, or `a`'s box almost wholly inside `b`'s sharing its top or
    bottom edge (a part of `b`)."""
    if box_iou(a.box, b.box) >= iou:
        return True
    ix = max(0.0, min(a.box[2], b.box[2]) - max(a.box[0], b.box[0]))
    iy = max(0.0, min(a.box[3], b.box[3]) - max(a.box[1], b.box[1]))
    area_a = max((a.box[2] - a.box[0]) * (a.box[3] - a.box[1]), 1e-9)
    b_h = max(b.box[3] - b.box[1], 1.0)
    edge = min(abs(a.box[1] - b.box[1]), abs(a.box[3] - b.box[3])) < 0.1 * b_h
    if ix * iy / area_a > 0.85 and edge:
        return True
    distance = _median_joint_distance(a, b, 0.3)
    size = max(a.box[2] - a.box[0], a.box[3] - a.box[1], 1.0)
    return distance < 0.08 * size


PART_HEIGHT = 0.35  # `part_of`: a "person" this much shorter than someone they touch is a part of them
PART_MARGIN = 0.05  # `part_of`: boxes this close (a fraction of the taller one's height) touch


def part_of(a: Detection, b: Detection, ratio: float = PART_HEIGHT) -> bool:
    """Whether `a` is a part of `b` seen as a small whole person (a hand on someone's back, found
    beside `b` greyed out): `a`'s box is less than `ratio` of `b`'s height and touches `b`'s box
    enlarged by `PART_MARGIN` of its height on every side."""
    height = b.box[3] - b.box[1]
    m = PART_MARGIN * height
    touch = (a.box[0] <= b.box[2] + m and b.box[0] - m <= a.box[2]
             and a.box[1] <= b.box[3] + m and b.box[1] - m <= a.box[3])
    return bool(touch and (a.box[3] - a.box[1]) < ratio * height)


def _median_joint_distance(a: Detection, b: Detection, min_score: float) -> float:
    """The median distance in pixels between the joints scored above `min_score` in both `a`
    and `b`; infinite with fewer than 6 such joints."""
    both = (a.scores > min_score) & (b.scores > min_score)
    if both.sum() < 6:
        return math.inf
    return float(np.median(np.linalg.norm(a.keypoints[both] - b.keypoints[both], axis=-1)))


def motion_per_frame(a: Detection, b: Detection, frames: int = 1) -> float:
    """How far a person moved from `a` to `b` (`frames` apart): the median displacement of the
    joints confident (> 0.5) in both, per frame, as a fraction of `b`'s box height; infinite
    with fewer than 6 such joints."""
    height = max(float(b.box[3] - b.box[1]), 1.0)
    return _median_joint_distance(a, b, 0.5) / height / max(frames, 1)


_TORSO = (1, 4, 11, 14)  # Human3.6M-17: right hip, left hip, left shoulder, right shoulder


def plausible_person(kp: np.ndarray, sc: np.ndarray, min_joints: int = 8, min_torso_px: float = 16.0,
                     min_lying_torso_px: float = 120.0) -> bool:
    """Whether Human3.6M-17 keypoints look like a person rather than a detector's ghost (a
    loudspeaker or a table edge seen as a tiny, collapsed body): at least `min_joints` joints
    with score >= 0.5, shoulders and hips among them; mean score >= 0.7; a torso (mid-shoulder
    to mid-hip) of at least `min_torso_px` pixels; legs (hip-knee-ankle, mean of both sides) at
    least 0.85 torso lengths; and a torso under `min_lying_torso_px` must be within 60 degrees
    of upright (small bodies lying flat are table edges and shelves far more often than people).
    The legs rule also turns away people seen with their legs pointing at the camera (sitting
    facing it): a limitation of this backend."""
    if (sc >= 0.5).sum() < min_joints or not (sc[list(_TORSO)] >= 0.5).all() or sc.mean() < 0.7:
        return False
    up = (kp[11] + kp[14]) / 2 - (kp[1] + kp[4]) / 2
    torso = float(np.linalg.norm(up))
    if torso < min_lying_torso_px and abs(up[1]) < 0.5 * torso:  # more than 60 degrees from upright
        return False
    legs = 0.5 * sum(float(np.linalg.norm(kp[a] - kp[b])) for a, b in ((1, 2), (2, 3), (4, 5), (5, 6)))
    return torso >= min_torso_px and legs >= 0.85 * torso


@dataclass
class _Follower:
    landmarker: Any  # MediaPipe's video-mode landmarker (made when first needed), or None
    detection: Detection
    lite: Any = None  # its `BlazePoseFollower` (LiteRT), unless `lite_follow` is off
    stamp_ms: int = 0
    misses: int = 0  # frames in a row without landmarks
    seen: bool = True  # landmarks found in the latest frame
    motion: float = math.inf  # median joint motion per frame / body height, between the last two landmark runs
    held: bool = False  # the latest frame had no landmark run (see `hold_motion`)
    gap: int = 1  # frames between this landmark run and the one before
    stand_in: Detection | None = None  # what the skipped frame reported, until its next frame's run


def between(before: Detection, after: Detection, into: Detection) -> None:
    """Set `into` (a skipped frame's detection, already handed out) in place to the midpoint of
    the frames on either side: keypoints, scores and box (the tracker keeps references to them)."""
    into.keypoints[:] = 0.5 * (before.keypoints + after.keypoints)
    into.scores[:] = 0.5 * (before.scores + after.scores)
    if into.box is not None and before.box is not None and after.box is not None:
        into.box[:] = 0.5 * (np.asarray(before.box) + np.asarray(after.box))
    into.score = 0.5 * (before.score + after.score)


class MediaPipePeopleBackend(PoseBackend):
    """MediaPipe for any number of people (see the module docstring).

    max_people: at most this many people followed at once.
    discover_every: once `first_rounds` rounds of regions were searched (on every frame), run
        discovery on every this many frames (every frame while nobody is followed). Each
        discovery costs a detector run plus a landmark run per candidate, most of which are not
        people; a second round on every frame took 8-13 more discoveries on the 40- and 72-frame
        1080p clips of `../shared/data/videos` and found the same people there (whole command
        4.21 instead of 4.81 s on the 40-frame one, mean of four; see docs/performance.md).
    threads: landmarkers run side by side on this many threads (MediaPipe's models run one
        image on one core; the followers and the discovery pass of a frame are independent).
    tile: side of the square discovery tiles in pixels (0: no tiles, the whole frame only).
    hold_motion: a person who moved less than this fraction of their height per frame gets no
        landmark run on the next frame (never two frames in a row): that frame first reports a
        copy of their landmarks, which becomes the midpoint of its two neighbours once the frame
        after it has run (0: every person on every frame).
    lite_follow: find and follow people with the detector and the landmark model in LiteRT
        (`pipeline.pose2d.blazepose_detector`, `BlazePoseFollower`); False, or LiteRT not
        installed: MediaPipe's landmarker finds and follows everyone (the 2D pass of `tennis.mp4`
        alone: 20.3 instead of 12.8 CPU-s).
    """

    name = "mediapipe"
    multi_person = True
    input_format = "rgb24"

    def __init__(self, max_people: int = 8, tile: int = 432,
                 min_detection_confidence: float = 0.3, min_tracking_confidence: float = 0.5,
                 crop_margin: float = 0.35, min_crop: int = 160, same_person_iou: float = 0.5,
                 min_joints: int = 8, follow_iou: float = 0.3, max_misses: int = 3,
                 new_person_iou: float = 0.25, small_person: float = 0.25, small_crop_margin: float = 0.75,
                 threads: int = 2, discover_every: int = 2, hold_motion: float = 0.005,
                 first_rounds: int = 1, lite_follow: bool = True) -> None:
        if isinstance(max_people, bool) or int(max_people) != max_people or max_people < 1:
            raise PoseMoEError(f"max_people: expected a whole number >= 1, found {max_people}")
        for what, value in (("min_detection_confidence", min_detection_confidence),
                            ("min_tracking_confidence", min_tracking_confidence)):
            if not 0.0 <= float(value) <= 1.0:
                raise PoseMoEError(f"MediaPipePeopleBackend: {what} must be in [0, 1], found {value}")
        self._quiet = _filtered_native_stderr
        self.max_people = int(max_people)
        if isinstance(discover_every, bool) or int(discover_every) != discover_every or discover_every < 1:
            raise PoseMoEError(f"discover_every: expected a whole number of frames >= 1, found {discover_every}")
        self.discover_every = int(discover_every)
        if isinstance(first_rounds, bool) or int(first_rounds) != first_rounds or first_rounds < 0:
            raise PoseMoEError(f"first_rounds: expected a whole number of rounds >= 0, found {first_rounds}")
        self.first_rounds = int(first_rounds)
        if not 0.0 <= float(hold_motion) < 1.0:
            raise PoseMoEError(f"hold_motion: expected a fraction of body height in [0, 1), found {hold_motion}")
        self.hold_motion = float(hold_motion)
        if isinstance(tile, bool) or int(tile) != tile or tile < 0:
            raise PoseMoEError(f"tile: expected a whole number of pixels >= 0, found {tile}")
        self.tile = int(tile)
        self.min_joints = int(min_joints)
        self.follow_iou = float(follow_iou)
        self.max_misses = int(max_misses)
        self.new_person_iou = float(new_person_iou)
        self.small_person, self.small_crop_margin = float(small_person), float(small_crop_margin)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.crop_margin = float(crop_margin)
        self.min_crop = int(min_crop)
        self.same_person_iou = float(same_person_iou)
        self._followers: list[_Follower] = []
        self._last_index: int | None = None
        self._last_size: tuple[int, int] | None = None
        self._regions: list[tuple[int, int, int, int]] = []
        self._next_region = 0
        self._idle: list[Any] = []  # video-mode landmarkers to reuse (making one takes ~0.1 s)
        self._idle_lock = threading.Lock()  # worker threads take landmarkers from `_idle` too
        # one LiteRT (LandmarkModel, PoseDetector) pair per worker thread; None: MediaPipe's graphs
        self._lite: queue.SimpleQueue | None = None
        self._handoff: dict[int, Any] = {}  # id(Detection found) -> the BlazePoseFollower that found it
        self._finder: Any = None  # MediaPipe's landmarker in image mode, when not finding with LiteRT
        self._bundle: Path | None = None
        self._pending: tuple[Future, tuple[int, int, int, int]] | None = None  # a discovery still running
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=max(1, int(threads)), thread_name_prefix="mediapipe")
        with self._quiet(True):
            models = []
            if lite_follow:
                from pipeline.pose2d.blazepose_detector import PoseDetector
                from pipeline.pose2d.blazepose_follower import LandmarkModel

                detector_file, landmarks_file = wheel_models()
                try:
                    from pipeline.pose2d.blazepose_lean import lean_landmark_model

                    landmarks = lean_landmark_model(landmarks_file)  # without the unused heads: a third faster
                    models = [(LandmarkModel(landmarks), PoseDetector(detector_file))
                              for _ in range(max(1, int(threads)))]
                except PoseMoEError as exc:
                    # MediaPipe's graphs find and follow everyone, more slowly
                    warnings.warn(f"{exc}; until then MediaPipe's own landmarker finds and follows people "
                                  "(about 1.6 times as much CPU)", stacklevel=2)
            if models:
                self._lite = queue.SimpleQueue()
                for pair in models:
                    self._lite.put(pair)
            else:
                self._finder = self._landmarker(video=False, poses=self.max_people)

    # ------------------------------------------------------------------ MediaPipe plumbing

    @property
    def bundle(self) -> Path:
        """MediaPipe's ``.task`` bundle (built into the cache when first needed)."""
        if self._bundle is None:
            self._bundle = ensure_bundle()
        return self._bundle

    def _landmarker(self, video: bool, poses: int) -> Any:
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.bundle)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_poses=poses, min_pose_detection_confidence=self.min_detection_confidence,
            min_pose_presence_confidence=self.min_tracking_confidence,
            min_tracking_confidence=self.min_tracking_confidence)
        return vision.PoseLandmarker.create_from_options(options)

    @staticmethod
    def _image(rgb: np.ndarray) -> Any:
        import mediapipe as mp

        return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))

    def _detections(self, result: Any, x0: int, y0: int, w: int, h: int) -> list[Detection]:
        out = []
        for landmarks in result.pose_landmarks:
            lm = np.array([(p.x * w + x0, p.y * h + y0, p.visibility if p.visibility is not None else 0.0)
                           for p in landmarks], dtype=np.float64)
            d = self._detection(lm)
            if d is not None:
                out.append(d)
        return out

    def _crop(self, det: Detection, w: int, h: int) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = det.box
        small = (y1 - y0) < self.small_person * h
        side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * (self.small_crop_margin if small else self.crop_margin))
        side = max(side, self.min_crop)
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        a, b = int(max(0, round(cx - side / 2))), int(max(0, round(cy - side / 2)))
        c, d = int(min(w, round(cx + side / 2))), int(min(h, round(cy + side / 2)))
        return a, b, c, d

    # ------------------------------------------------------------------ passes

    def _discover(self, found: Any, region: tuple[int, int, int, int]) -> list[Detection]:
        """The people in one region's finder result (`_find_lite`'s, or MediaPipe's landmarker's),
        most confident first."""
        if isinstance(found, list):
            people = self._took_over(found)
        else:
            x0, y0, x1, y1 = region
            people = self._detections(found, x0, y0, x1 - x0, y1 - y0)
        return sorted(people, key=lambda d: -d.score)

    def _took_over(self, found: list[tuple[Detection, Any]]) -> list[Detection]:
        """`_find_lite`'s people: the followers that found them are kept for `_new_follower`."""
        for d, follower in found:
            self._handoff[id(d)] = follower
        return [d for d, _ in found]

    def _handed_over(self, d: Detection) -> Any:
        """The `BlazePoseFollower` that found `d`, if its region is within `START_MAX_TURN` of
        upright: the detector often sees a small, far person upside down (the spectator on the
        stairs of `tennis.mp4`, turned 174 degrees), and a follower started there keeps a wrong
        pose for many frames; such a person starts upright from their keypoints instead."""
        from pipeline.pose2d.blazepose_follower import START_MAX_TURN

        follower = self._handoff.get(id(d))
        if follower is None or not follower.active or abs(follower.roi[3]) > START_MAX_TURN:
            return None
        return follower

    def _find_lite(self, image: np.ndarray, origin: tuple[int, int], limit: int, t: float,
                   pair: tuple[Any, Any] | None = None) -> list[tuple[Detection, Any]]:
        """The people in `image` (a crop of the frame at `origin`) found with the LiteRT models
        (`pipeline.pose2d.blazepose_detector.find_people`), each with the follower that found them."""
        from pipeline.pose2d.blazepose_detector import find_people

        mine = pair is None
        if mine:
            pair = self._lite.get()  # at most one job per worker thread: there is always one free
        try:
            found = find_people(pair[1], pair[0], image, origin, min_score=self.min_detection_confidence,
                                limit=limit, min_presence=self.min_tracking_confidence, t=t)
        finally:
            if mine:
                self._lite.put(pair)
        out = []
        for landmarks, follower in found:
            d = self._detection(landmarks)
            if d is not None:
                out.append((d, follower))
        return out

    def _detection(self, landmarks: np.ndarray) -> Detection | None:
        """A `Detection` from 33 landmarks (x, y, visibility) in frame pixels, if they look like a person."""
        h36m = blazepose33_to_h36m17(landmarks)
        kp, sc = h36m[:, :2], np.clip(np.nan_to_num(h36m[:, 2], nan=0.0), 0.0, 1.0)
        if plausible_person(kp, sc, self.min_joints):
            return Detection(kp, sc, box=box_from_keypoints(kp, sc))
        return None

    def _follow(self, followers: list[tuple[_Follower, list[Detection]]],
                held: list[_Follower] = ()) -> list[_Follower]:
        """Update each follower from the people found in its crop (`held`: the followers whose
        previous landmarks this frame reuses; nobody may drift onto them either)."""
        kept: list[_Follower] = list(held)
        for f, dets in followers:
            # the crop may hold someone else too: keep whoever is where this person was
            best = max(dets, key=lambda d: box_iou(d.box, f.detection.box), default=None)
            if (best is None or box_iou(best.box, f.detection.box) < self.follow_iou
                    or any(same_person(best, k.detection, self.same_person_iou) for k in kept)):
                if f.lite is not None:
                    f.lite.stop()  # looked for in their crop on the next frame
                f.misses += 1
                if f.misses > self.max_misses:
                    self._drop(f)
                else:
                    kept.append(f)  # not seen this frame; looked for again in the same place
                continue
            f.motion = motion_per_frame(f.detection, best, f.gap)
            f.detection, f.misses, f.seen = best, 0, True
            if f.lite is not None and not f.lite.active:
                found_by = self._handed_over(best)
                if found_by is not None:
                    f.lite = found_by  # found again with the LiteRT models: follow on from there
                else:
                    f.lite.start(best.keypoints, best.scores)
            kept.append(f)
        return kept[len(held):]

    def _submit_followers(self, rgb: np.ndarray, index_ms: int, followers: list[_Follower]
                          ) -> list[tuple[_Follower, Future]]:
        """Start following each of `followers` on its crop of this frame (worker threads): with
        its `BlazePoseFollower` while that has them, else by looking for them in their crop."""
        h, w = rgb.shape[:2]
        jobs = []
        for f in list(followers):
            lite = f.lite is not None and f.lite.active
            box = f.lite.region(w, h) if lite else self._crop(f.detection, w, h)
            if box[2] - box[0] < 8 or box[3] - box[1] < 8:
                self._followers.remove(f)
                self._drop(f)
                continue
            f.stamp_ms = max(index_ms, f.stamp_ms + 1)
            f.seen = False
            others = [g.detection.box for g in self._followers if g is not f]
            crop = self._masked(rgb, box, f, others)
            if lite:
                # if the follower loses them, they are looked for in their crop on the same frame
                fallback = self._crop(f.detection, w, h)
                jobs.append((f, self._pool.submit(self._follow_lite, f, crop, box, f.stamp_ms, rgb, fallback, others)))
            elif self._lite is not None:  # lost on an earlier frame: looked for again in their crop
                jobs.append((f, self._pool.submit(self._find_lite, crop, box[:2], 1, f.stamp_ms / 1000.0)))
            else:
                jobs.append((f, self._pool.submit(self._follow_mediapipe, f, crop, box, f.stamp_ms)))
        return jobs

    def _follow_mediapipe(self, f: _Follower, crop: np.ndarray, box: tuple[int, int, int, int],
                          stamp_ms: int) -> list[Detection]:
        if f.landmarker is None:  # made when first needed: most people never lose their LiteRT follower
            with self._idle_lock:
                f.landmarker = self._idle.pop() if self._idle else None
            if f.landmarker is None:
                f.landmarker = self._landmarker(video=True, poses=1)
        x0, y0, x1, y1 = box
        return self._detections(f.landmarker.detect_for_video(self._image(crop), stamp_ms), x0, y0, x1 - x0, y1 - y0)

    def _follow_lite(self, f: _Follower, crop: np.ndarray, box: tuple[int, int, int, int], stamp_ms: int,
                     rgb: np.ndarray, fallback: tuple[int, int, int, int], others: list
                     ) -> list[Detection] | list[tuple[Detection, Any]]:
        """Follow `f` on this frame; if the follower loses them, look for them in the `fallback` crop
        (the detector and the landmark model, as MediaPipe's landmarker would): then the people
        found come with the followers that found them (`_took_over`)."""
        pair = self._lite.get()  # at most one job per worker thread: there is always one free
        try:
            landmarks = f.lite.track(pair[0], crop, box[:2], stamp_ms / 1000.0)
            if landmarks is not None:
                d = self._detection(landmarks)
                if d is not None:
                    return [d]
                f.lite.stop()
            return self._find_lite(self._masked(rgb, fallback, f, others), fallback[:2], 1, stamp_ms / 1000.0, pair)
        finally:
            self._lite.put(pair)

    def _found(self, result: list) -> list[Detection]:
        """A follower job's people (`_follow_lite`'s with their followers kept for `_follow`)."""
        if result and isinstance(result[0], tuple):
            return self._took_over(result)
        return result

    def _submit_finder(self, rgb: np.ndarray, region: tuple[int, int, int, int], index_ms: int = 0) -> Future:
        """Start the finder on the discovery `region` of this frame, the followed people greyed
        out: it then spends no landmark run on them and cannot report a part of them as someone new."""
        x0, y0, x1, y1 = region
        view = rgb[y0:y1, x0:x1]
        for f in self._followers:
            bx0, by0, bx1, by1 = (int(round(v)) for v in f.detection.box)
            bx0, by0, bx1, by1 = max(bx0, x0), max(by0, y0), min(bx1, x1), min(by1, y1)
            if bx1 > bx0 and by1 > by0:
                if view.base is not None:
                    view = view.copy()
                view[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0] = 128
        if self._lite is not None:
            return self._pool.submit(self._find_lite, view, (x0, y0), self.max_people, index_ms / 1000.0)
        return self._pool.submit(self._finder.detect, self._image(view))

    def _adopt(self, candidates: list[Detection], seen: bool) -> None:
        """Follow the people in `candidates` (most confident first) who are not already followed,
        up to `max_people`; `seen`: whether they count as found in the current frame."""
        for d in candidates:
            if len(self._followers) >= self.max_people:
                break
            # a new person overlapping a followed one that much is far more often a part
            # of them seen again (an arm, the legs) than someone else; found once apart
            if not any(same_person(d, f.detection, self.new_person_iou)
                       or same_person(f.detection, d, self.new_person_iou)
                       or part_of(d, f.detection) for f in self._followers):
                follower = self._new_follower(d)
                follower.seen = seen
                self._followers.append(follower)

    @staticmethod
    def _masked(rgb: np.ndarray, crop: tuple[int, int, int, int], f: _Follower, others: list[np.ndarray]) -> np.ndarray:
        """The crop of `f` with the other followed people greyed out, except where they overlap
        `f`'s own box: the detector then has no one else to lock on to. (Rectangles filled, then
        `f`'s own box copied back: a boolean mask over a 1080p crop cost ~4 ms a person.)"""
        x0, y0, x1, y1 = crop
        out = rgb[y0:y1, x0:x1]
        filled = False
        for b in others:
            bx0, by0 = max(int(b[0]), x0), max(int(b[1]), y0)
            bx1, by1 = min(int(np.ceil(b[2])), x1), min(int(np.ceil(b[3])), y1)
            if bx1 <= bx0 or by1 <= by0:
                continue
            if not filled:
                out, filled = out.copy(), True
            out[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0] = 128
        if filled:
            keep = f.detection.box
            kx0, ky0 = max(int(keep[0]), x0), max(int(keep[1]), y0)
            kx1, ky1 = min(int(np.ceil(keep[2])), x1), min(int(np.ceil(keep[3])), y1)
            if kx1 > kx0 and ky1 > ky0:
                out[ky0 - y0:ky1 - y0, kx0 - x0:kx1 - x0] = rgb[ky0:ky1, kx0:kx1]
        return out

    def _drop(self, f: _Follower) -> None:
        if f.landmarker is not None:
            with self._idle_lock:
                self._idle.append(f.landmarker)

    def _new_follower(self, d: Detection) -> _Follower:
        if self._lite is None:
            return _Follower(self._idle.pop() if self._idle else self._landmarker(video=True, poses=1), d)
        lite = self._handed_over(d)  # the follower that found them, ready to go on
        if lite is None:
            from pipeline.pose2d.blazepose_follower import BlazePoseFollower

            lite = BlazePoseFollower(self.min_tracking_confidence)
            lite.start(d.keypoints, d.scores)
        return _Follower(None, d, lite=lite)

    def _reset(self) -> None:
        for f in self._followers:
            self._drop(f)
        self._followers = []
        self._next_region = 0
        if self._pending is not None:
            future, self._pending = self._pending[0], None
            try:
                future.result()  # let the finder finish before anyone reuses it; its people are not wanted
            except Exception:  # noqa: BLE001 - a failed discovery nobody will read
                pass

    # ------------------------------------------------------------------ the PoseBackend interface

    def detect_rgb(self, frame_rgb: np.ndarray, frame_index: int) -> list[Detection]:
        """The people in an (H, W, 3) uint8 RGB frame."""
        if self._closed:
            raise PoseMoEError("MediaPipePeopleBackend: called after close(); make a new backend")
        rgb = check_frame(frame_rgb, "MediaPipePeopleBackend")
        h, w = rgb.shape[:2]
        frame_index = int(frame_index)
        if self._last_index is not None and (frame_index != self._last_index + 1 or (w, h) != self._last_size):
            self._reset()  # a jump or a new size: whom we followed means nothing here
        if not self._regions or self._last_size != (w, h):
            self._regions = discovery_regions(w, h, self.tile)
        self._last_index, self._last_size = frame_index, (w, h)
        with self._quiet(True):
            index_ms = frame_index * 40
            run, held = [], []
            for f in self._followers:
                if not f.held and f.seen and f.misses == 0 and f.motion < self.hold_motion:
                    f.held = True  # nearly still: no landmark run this frame (see `hold_motion`)
                    d = f.detection
                    f.stand_in = Detection(d.keypoints.copy(), d.scores.copy(),
                                           box=None if d.box is None else np.array(d.box, dtype=np.float64),
                                           score=d.score)
                    held.append(f)
                else:
                    f.gap, f.held = (2 if f.held else 1), False
                    run.append(f)
            before = {id(f): f.detection for f in run if f.stand_in is not None}
            jobs = self._submit_followers(rgb, index_ms, run)
            if self._pending is not None:
                # the previous frame's discovery ran beside this frame's followers: its people
                # are followed from this frame on, starting from where they were found
                future, region = self._pending
                self._pending = None
                known = len(self._followers)
                self._adopt(self._discover(future.result(), region), seen=True)
                self._handoff.clear()
                jobs += self._submit_followers(rgb, index_ms, self._followers[known:])
            region = None
            settled = self._next_region >= self.first_rounds * len(self._regions)
            due = not self._followers or not settled or frame_index % self.discover_every == 0
            if due and len(self._followers) < self.max_people:
                region = self._regions[self._next_region % len(self._regions)]
                self._next_region += 1
            alone = not self._followers
            found = self._submit_finder(rgb, region, index_ms) if region is not None else None
            kept = {id(f) for f in self._follow([(f, self._found(job.result())) for f, job in jobs], held)}
            self._handoff.clear()
            self._followers = [f for f in self._followers if f.held or id(f) in kept]
            for f in run:
                if f.stand_in is not None:
                    if f.seen and f.misses == 0:  # landmarks on both sides of the skipped frame
                        between(before[id(f)], f.detection, f.stand_in)
                    f.stand_in = None  # else it stays a copy of the frame before
            if found is not None and region is not None:
                if alone:
                    # nobody to follow: this frame's people are whoever discovery finds in it
                    self._adopt(self._discover(found.result(), region), seen=True)
                    self._handoff.clear()
                else:
                    # collected on the next frame, after that frame's followers have started: the
                    # worker threads never idle waiting for the slowest job of a frame
                    self._pending = (found, region)
        return [f.stand_in if f.held else f.detection for f in self._followers if f.seen]

    def __call__(self, frame_bgr: np.ndarray | None, frame_index: int) -> list[Detection]:
        """The people in an (H, W, 3) uint8 BGR frame."""
        import cv2

        return self.detect_rgb(cv2.cvtColor(check_frame(frame_bgr, "MediaPipePeopleBackend"), cv2.COLOR_BGR2RGB),
                               frame_index)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._reset()
        self._pool.shutdown(wait=True)
        for landmarker in [*self._idle, self._finder]:
            if landmarker is not None:
                landmarker.close()
        self._idle = []
