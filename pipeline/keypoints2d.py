"""2D keypoints for every video frame: one interface, several backends.

A backend is called once per frame, in order, and returns the people it found in that frame as
``pipeline.track.Detection`` objects: H36M17 keypoints (17, 2) in pixels of the given frame,
per-joint scores in [0, 1], a box and a person score. ``pipeline.track.Tracker`` links them.

Backends (``make_backend(name, **kwargs)``):

* ``"mediapipe"`` -> ``pipeline.mediapipe_people.MediaPipePeopleBackend``: MediaPipe's BlazePose
  ("full", from the ``mediapipe`` wheel, offline, on the CPU) for any number of people, with
  tiled discovery for small, far people; with ``max_people=1``, ``MediaPipeBackend``, the
  single-person solution in video mode (about twice as fast for one person). The 33 landmarks
  are mapped to H36M17 with ``posemoe.skeleton.blazepose33_to_h36m17``.
* ``"keypoints"`` -> ``KeypointFileBackend(path)``: no detector; reads keypoints computed
  earlier, either our own results export (``pipeline.export``) or mmpose's prediction JSON.
* ``"mmpose"`` -> ``pipeline.mmpose_backend.MMPoseBackend``: the OpenMMLab RTMDet person detector
  + RTMPose-m COCO-17 top-down model (several people per frame); weights from ``--det-weights`` /
  ``--pose-weights``, a cache folder, or one download (see that module).
* ``"auto"``: ``resolve_auto()`` picks mmpose when the OpenMMLab stack is installed and its
  weights are here (or one quick download gets them), else mediapipe, and says why in one line.

Every backend is a context manager (``with make_backend(...) as backend:``) and has ``close()``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import re
import sys
import tempfile
import zipfile
from abc import ABC, abstractmethod
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any, Iterator, NoReturn, Sequence

import numpy as np

from pipeline.track import NUM_JOINTS, Detection, box_from_keypoints
from posemoe.errors import PoseMoEError
from posemoe.skeleton import blazepose33_to_h36m17, coco17_to_h36m17

__all__ = [
    "BACKENDS",
    "KEYPOINT_FILE_JOINTS",
    "KeypointFileBackend",
    "MediaPipeBackend",
    "PoseBackend",
    "make_backend",
    "resolve_auto",
]

BACKENDS = ("auto", "mediapipe", "mmpose", "keypoints")
KEYPOINT_FILE_JOINTS = "h36m17"  # the ``joints`` field of our keypoint files
MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.21"
MEDIAPIPE_REASON = "OpenMMLab stack not installed; using the bundled offline MediaPipe BlazePose (several people)"


# ----------------------------------------------------------------------------- interface


class PoseBackend(ABC):
    """A 2D keypoint detector: frame in, people (``Detection``, H36M17, pixels) out.

    name: the backend's name in ``BACKENDS``. multi_person: whether it can return more than one
    person per frame. Call it with each frame in order; ``close()`` frees its resources (also
    done by leaving a ``with`` block).
    """

    name: str = ""
    multi_person: bool = False

    @abstractmethod
    def __call__(self, frame_bgr: np.ndarray | None, frame_index: int) -> list[Detection]:
        """The people in one frame.

        frame_bgr: (H, W, 3) uint8 BGR image (backends that do not look at pixels accept None).
        frame_index: 0-based index of the frame in the video.
        Returns one ``Detection`` per person: keypoints (17, 2) H36M17 pixels of this frame,
        scores (17,) in [0, 1].
        """

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


def _check_frame(frame_bgr: Any, who: str) -> np.ndarray:
    """``frame_bgr`` as an (H, W, 3) uint8 array, or a one-line error."""
    if not isinstance(frame_bgr, np.ndarray) or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 \
            or frame_bgr.dtype != np.uint8 or frame_bgr.shape[0] < 1 or frame_bgr.shape[1] < 1:
        found = (f"{frame_bgr.dtype} array of shape {frame_bgr.shape}" if isinstance(frame_bgr, np.ndarray)
                 else type(frame_bgr).__name__)
        raise PoseMoEError(f"{who}: expected a frame as a uint8 (H, W, 3) BGR array, found {found}")
    return frame_bgr


# ----------------------------------------------------------------------------- MediaPipe

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

        frame = _check_frame(frame_bgr, "MediaPipeBackend")
        # cv2's conversion is ~10x faster than a numpy channel flip plus copy at 720p
        return self.detect_rgb(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), frame_index)

    def detect_rgb(self, frame_rgb: np.ndarray, frame_index: int) -> list[Detection]:
        """``__call__`` for an (H, W, 3) uint8 RGB frame (e.g. ``VideoReader(path, "rgb24")``): no conversion."""
        if self._pose is None:
            raise PoseMoEError("MediaPipeBackend: called after close(); make a new backend")
        frame = np.ascontiguousarray(_check_frame(frame_rgb, "MediaPipeBackend"))
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


# ----------------------------------------------------------------------------- keypoint files


def _as_float(value: Any) -> np.ndarray:
    """Nested lists (JSON null -> NaN) or an array -> float64 array; ValueError if ragged."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    return np.array(value, dtype=np.float64)


class KeypointFileBackend(PoseBackend):
    """Keypoints computed earlier, read from a file: no detector runs (frame pixels are ignored).

    path: one of
      (a) our own export (``.npz`` or ``.json``, as ``pipeline.export.save_results`` writes it):
          ``joints`` = "h36m17" (at the top level, or inside the ``meta`` object, which an .npz
          stores as a JSON string), ``frame_index`` (F,), ``time_s`` (F,) seconds, ``fps``
          (null/NaN when unknown), ``image_size`` (w, h) (null or empty when unknown),
          ``track_ids`` (P,), ``keypoints2d`` (P, F, 17, 2) pixels, ``scores2d`` (P, F, 17) and
          optionally ``keypoints3d`` (P, F, 17, 3) metres; NaN where a person is absent (JSON:
          null). Other fields are ignored. A person is present in a frame when any of their 2D
          joints is finite.
      (b) mmpose's prediction JSON (``MMPoseInferencer(..., pred_out_dir=...)``): for a video a
          list over frames ``{"frame_id", "instances": [{"keypoints" (17 x [x, y]),
          "keypoint_scores" (17), "bbox" ([[x1, y1, x2, y2]]), "bbox_score"}, ...]}``, for an
          image a list of instances (one frame, index 0). Keypoints are COCO-17 and converted
          with ``coco17_to_h36m17``; the box and person score are mmpose's when given.

    Attributes: ``format`` ("posemoe" or "mmpose"); ``frame_indices`` (F,) int64, in file order;
    ``num_frames`` F; ``fps`` and ``image_size`` (w, h) when the file says (else None);
    ``time_s`` (F,) or None; for our format also ``track_ids`` (P,), ``keypoints2d``,
    ``scores2d``, ``keypoints3d`` (or None), else None. Calling it with a frame index not in the
    file returns ``[]``; calling it with a frame whose size differs from ``image_size`` is an error.
    """

    name = "keypoints"
    multi_person = True

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format = ""
        self.frame_indices = np.zeros(0, dtype=np.int64)
        self.fps: float | None = None
        self.image_size: tuple[int, int] | None = None
        self.time_s: np.ndarray | None = None
        self.track_ids: np.ndarray | None = None
        self.keypoints2d: np.ndarray | None = None
        self.scores2d: np.ndarray | None = None
        self.keypoints3d: np.ndarray | None = None
        self._mmpose_frames: list[list[Detection]] | None = None
        if not self.path.is_file():
            self._fail("not found (or not a file)", "pass the .npz/.json keypoints export or mmpose's prediction JSON")
        if not os.access(self.path, os.R_OK):
            self._fail("permission denied (not readable)", "fix its permissions, e.g. chmod +r")
        suffix = self.path.suffix.lower()
        if suffix == ".npz":
            self._load_own(self._read_npz(), "npz")
        elif suffix == ".json":
            data = self._read_json()
            if isinstance(data, dict):
                if "joints" not in data and "meta" not in data:
                    self._fail(f"expected our keypoints export (a JSON object with a 'meta' or 'joints' field) or "
                               f"mmpose's prediction list, found an object with keys {sorted(data)[:8]}")
                self._load_own(data, "json")
            elif isinstance(data, list):
                self._load_mmpose(data)
            else:
                self._fail(f"expected a JSON object (our export) or list (mmpose predictions), "
                           f"found {type(data).__name__}")
        else:
            self._fail(f"expected a .npz or .json file, found suffix {self.path.suffix!r}")
        self._position = {int(f): i for i, f in enumerate(self.frame_indices)}

    # --- errors and readers

    def _fail(self, what: str, fix: str | None = None) -> NoReturn:
        msg = f"keypoints file {self.path}: {what}"
        fix = fix or ("pass a file written by `posemoe video --save` (schema in the README) or mmpose's "
                      "prediction JSON")
        raise PoseMoEError(f"{msg}; {fix}")

    def _read_npz(self) -> dict[str, np.ndarray]:
        if not zipfile.is_zipfile(self.path):
            self._fail("not a .npz archive (not a zip file)", "write it with pipeline.export.save_results")
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._fail(f"not a readable .npz of plain arrays ({reason})", "write it with pipeline.export.save_results")

    def _read_json(self) -> Any:
        try:
            with open(self.path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._fail(f"not valid JSON ({reason})")

    def _field(self, data: dict[str, Any], key: str, shape: tuple[int | str, ...], fmt: str) -> np.ndarray:
        """``data[key]`` as float64 with the given shape (ints fixed, strings name free sizes)."""
        if key not in data:
            self._fail(f"missing field {key!r} (expected fields joints, frame_index, time_s, fps, image_size, "
                       f"track_ids, keypoints2d, scores2d, optional keypoints3d)")
        try:
            arr = _as_float(data[key])
        except (TypeError, ValueError):
            self._fail(f"field {key!r}: expected numbers of shape {_shape_text(shape)}, found a ragged or "
                       f"non-numeric {fmt} value")
        if arr.ndim != len(shape) or any(isinstance(s, int) and s != n for s, n in zip(shape, arr.shape)):
            fix = None
            if NUM_JOINTS in shape and arr.ndim == len(shape):
                j = len(shape) - 1 - shape[::-1].index(NUM_JOINTS)
                if arr.shape[j] != NUM_JOINTS:
                    fix = (f"it has {arr.shape[j]} joints: convert them to the {NUM_JOINTS} Human3.6M joints first "
                           f"(posemoe.skeleton: coco17_to_h36m17, blazepose33_to_h36m17)")
            self._fail(f"field {key!r}: expected shape {_shape_text(shape)}, found {arr.shape}", fix)
        return arr

    # --- (a) our export

    def _load_own(self, data: dict[str, Any], fmt: str) -> None:
        self.format = "posemoe"
        joints = self._joints(data)
        if joints != KEYPOINT_FILE_JOINTS:
            self._fail(f"field 'joints': expected {KEYPOINT_FILE_JOINTS!r}, found {joints!r}",
                       "convert the keypoints to H36M17 before writing (posemoe.skeleton)")
        frames = self._field(data, "frame_index", ("F",), fmt)
        f = len(frames)
        if not np.all(np.isfinite(frames)) or not np.all(frames == np.round(frames)) or np.any(frames < 0):
            self._fail("field 'frame_index': expected non-negative integers")
        self.frame_indices = frames.astype(np.int64)
        if len(np.unique(self.frame_indices)) != f:
            self._fail("field 'frame_index': expected each frame once, found repeated indices")
        self.time_s = self._field(data, "time_s", (f,), fmt)
        kp = self._field(data, "keypoints2d", ("P", f, NUM_JOINTS, 2), fmt)
        p = kp.shape[0]
        self.track_ids = self._field(data, "track_ids", (p,), fmt)
        if not np.all(np.isfinite(self.track_ids)) or not np.all(self.track_ids == np.round(self.track_ids)):
            self._fail("field 'track_ids': expected integers")
        self.track_ids = self.track_ids.astype(np.int64)
        self.keypoints2d = kp
        self.scores2d = self._field(data, "scores2d", (p, f, NUM_JOINTS), fmt)
        if "keypoints3d" in data and data["keypoints3d"] is not None:
            self.keypoints3d = self._field(data, "keypoints3d", (p, f, NUM_JOINTS, 3), fmt)
        self.fps = self._optional_fps(data)
        self.image_size = self._optional_size(data)

    def _joints(self, data: dict[str, Any]) -> Any:
        """The ``joints`` field: top level, else inside ``meta`` (a dict, or a JSON string in an .npz)."""
        if "joints" in data:
            joints = data["joints"]
        elif "meta" in data:
            meta = data["meta"]
            if isinstance(meta, np.ndarray) and meta.ndim == 0:
                try:
                    meta = json.loads(str(meta.item()))
                except json.JSONDecodeError:
                    self._fail("field 'meta': expected a JSON object in a string, found text that is not JSON")
            if not isinstance(meta, dict) or "joints" not in meta:
                self._fail("field 'meta': expected an object with a 'joints' field")
            joints = meta["joints"]
        else:
            self._fail(f"missing field 'joints' (at the top level or in 'meta'); found fields {sorted(data)[:10]}")
        if isinstance(joints, np.ndarray):
            joints = joints.item() if joints.ndim == 0 else joints.tolist()
        return joints

    def _optional_fps(self, data: dict[str, Any]) -> float | None:
        if "fps" not in data:
            self._fail("missing field 'fps' (a number, or null when unknown)")
        fps = self._field(data, "fps", (), "scalar") if data["fps"] is not None else np.array(np.nan)
        value = float(fps)
        if math.isnan(value):
            return None
        if not (math.isfinite(value) and value > 0):
            self._fail(f"field 'fps': expected a positive number, found {value}")
        return value

    def _optional_size(self, data: dict[str, Any]) -> tuple[int, int] | None:
        if "image_size" not in data:
            self._fail("missing field 'image_size' ([width, height] pixels, or null when unknown)")
        if data["image_size"] is None or np.size(data["image_size"]) == 0:  # unknown (JSON null, npz [])
            return None
        size = self._field(data, "image_size", (2,), "list")
        if not np.all(np.isfinite(size)) or np.any(size < 1) or not np.all(size == np.round(size)):
            self._fail(f"field 'image_size': expected [width, height] in whole pixels >= 1, found {size.tolist()}")
        return int(size[0]), int(size[1])

    # --- (b) mmpose predictions

    def _load_mmpose(self, data: list[Any]) -> None:
        self.format = "mmpose"
        if data and all(isinstance(x, dict) and "instances" in x for x in data):
            frames = data
        elif all(isinstance(x, dict) and "keypoints" in x for x in data):  # one image (or nobody)
            frames = [{"frame_id": 0, "instances": data}]
        else:
            kinds = sorted({type(x).__name__ if not isinstance(x, dict) else "object without 'instances'"
                            for x in data if not (isinstance(x, dict) and "instances" in x)})
            self._fail(f"expected mmpose predictions (a list of {{'frame_id', 'instances'}} per frame, or of "
                       f"instances with 'keypoints'), found list items: {', '.join(kinds)}")
        indices: list[int] = []
        per_frame: list[list[Detection]] = []
        for n, frame in enumerate(frames):
            fid = frame.get("frame_id", n)
            if isinstance(fid, bool) or not isinstance(fid, (int, float)) or fid != int(fid) or fid < 0:
                self._fail(f"frame {n}: expected 'frame_id' to be a non-negative integer, found {fid!r}")
            instances = frame["instances"]
            if not isinstance(instances, list):
                self._fail(f"frame {fid}: expected 'instances' to be a list, found {type(instances).__name__}")
            indices.append(int(fid))
            per_frame.append([self._mmpose_instance(inst, int(fid), k) for k, inst in enumerate(instances)])
        self.frame_indices = np.array(indices, dtype=np.int64)
        if len(np.unique(self.frame_indices)) != len(indices):
            self._fail("expected each 'frame_id' once, found repeated frame ids")
        self._mmpose_frames = per_frame

    def _mmpose_instance(self, inst: Any, fid: int, k: int) -> Detection:
        where = f"frame {fid} instance {k}"
        if not isinstance(inst, dict):
            self._fail(f"{where}: expected an object, found {type(inst).__name__}")
        for key in ("keypoints", "keypoint_scores"):
            if key not in inst:
                self._fail(f"{where}: missing key {key!r} (mmpose instances have keypoints, keypoint_scores, bbox, "
                           f"bbox_score)")
        try:
            kp = _as_float(inst["keypoints"])
            sc = _as_float(inst["keypoint_scores"])
        except (TypeError, ValueError):
            self._fail(f"{where}: expected 'keypoints' as 17 [x, y] pairs and 'keypoint_scores' as 17 numbers, "
                       f"found ragged or non-numeric values")
        if kp.shape != (17, 2) or sc.shape != (17,):
            self._fail(f"{where}: expected COCO-17 keypoints (17, 2) and keypoint_scores (17,), found {kp.shape} "
                       f"and {sc.shape}", "use a COCO-17 body model (e.g. MMPoseInferencer('human'))")
        h36m = coco17_to_h36m17(np.concatenate([kp, sc[:, None]], axis=1))
        box = None
        if inst.get("bbox") is not None:
            try:
                box = _as_float(inst["bbox"]).reshape(-1)
            except (TypeError, ValueError):
                box = np.zeros(0)
            if box.shape != (4,) or not np.isfinite(box).all() or box[2] < box[0] or box[3] < box[1]:
                self._fail(f"{where}: expected 'bbox' as [[x1, y1, x2, y2]] or [x1, y1, x2, y2] with x2 >= x1 "
                           f"and y2 >= y1, found {inst['bbox']!r}")
        score = None
        if inst.get("bbox_score") is not None:
            try:
                s = _as_float(inst["bbox_score"]).reshape(-1)
            except (TypeError, ValueError):
                s = np.zeros(0)
            if s.shape != (1,):
                self._fail(f"{where}: expected 'bbox_score' as one number, found {inst['bbox_score']!r}")
            score = float(s[0])
        try:
            return Detection(h36m[:, :2], h36m[:, 2], box=box, score=score)
        except PoseMoEError as exc:
            self._fail(f"{where}: {exc}")

    # --- access

    @property
    def num_frames(self) -> int:
        """Number of frames F in the file."""
        return len(self.frame_indices)

    def _at(self, position: int) -> list[Detection]:
        if self._mmpose_frames is not None:
            return list(self._mmpose_frames[position])
        assert self.keypoints2d is not None and self.scores2d is not None
        kp = self.keypoints2d[:, position]  # (P, 17, 2)
        sc = self.scores2d[:, position]
        present = np.isfinite(kp).all(axis=-1).any(axis=-1)
        return [Detection(kp[p], sc[p]) for p in np.flatnonzero(present)]

    def __call__(self, frame_bgr: np.ndarray | None, frame_index: int) -> list[Detection]:
        """The people of frame ``frame_index`` (``[]`` when the file has no such frame).

        frame_bgr: ignored except for a size check against ``image_size``; may be None.
        """
        if frame_bgr is not None and self.image_size is not None:
            frame = _check_frame(frame_bgr, "KeypointFileBackend")
            size = (frame.shape[1], frame.shape[0])
            if size != self.image_size:
                self._fail(f"made for {self.image_size[0]}x{self.image_size[1]} frames, this video's are "
                           f"{size[0]}x{size[1]}", "use the keypoints file written for this video")
        position = self._position.get(int(frame_index))
        return [] if position is None else self._at(position)

    def detections(self) -> Iterator[tuple[int, list[Detection]]]:
        """``(frame_index, detections)`` for every frame of the file, in file order."""
        for position, frame_index in enumerate(self.frame_indices):
            yield int(frame_index), self._at(position)


def _shape_text(shape: Sequence[int | str]) -> str:
    if len(shape) == 0:
        return "() (one number)"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# ----------------------------------------------------------------------------- choosing a backend


def _openmmlab_installed() -> bool:
    """Whether ``mmcv``, ``mmdet`` and ``mmpose`` are installed (found, not imported: cheap)."""
    return all(importlib.util.find_spec(m) is not None for m in ("mmcv", "mmdet", "mmpose"))


_IMPORT_ERROR: list[str] = []  # why the stack did not import (filled by _openmmlab_importable)


@lru_cache(maxsize=1)
def _openmmlab_importable() -> bool:
    """Whether the OpenMMLab stack imports (mmdet, mmpose and their torchvision; once per process)."""
    if not _openmmlab_installed():
        return False
    from pipeline.mmpose_backend import import_openmmlab

    try:
        import_openmmlab()
    except PoseMoEError as exc:  # a broken install (e.g. mmcv built for another torch) counts as absent
        _IMPORT_ERROR[:] = [str(exc)]
        return False
    return True


def _mmpose_weights_cached() -> bool:
    """Whether both checkpoints the mmpose backend loads are in its cache folder."""
    from pipeline.mmpose_backend import DETECTOR, POSE_MODEL, cached

    return cached(DETECTOR) is not None and cached(POSE_MODEL) is not None


def resolve_auto(det_weights: str | os.PathLike | None = None,
                 pose_weights: str | os.PathLike | None = None) -> tuple[str, str]:
    """The backend ``"auto"`` stands for here, and why: ``(name, one-line reason)``.

    "mmpose" (multi-person) when the OpenMMLab stack is installed and imports, and its two
    checkpoints are given (``det_weights``, ``pose_weights``), cached, or fetched by one quick
    download attempt (a failed attempt is remembered for a while: see
    ``pipeline.mmpose_backend.auto_choice``); otherwise "mediapipe".
    """
    if not _openmmlab_installed():
        return "mediapipe", MEDIAPIPE_REASON
    fallback = "using the bundled offline MediaPipe BlazePose (several people)"
    if det_weights is None and pose_weights is None and _mmpose_weights_cached():
        from pipeline.mmpose_backend import cache_dir

        ok, why = True, f"its weights cached in {cache_dir()}"
    else:
        from pipeline.mmpose_backend import auto_choice

        ok, why = auto_choice(det_weights, pose_weights)
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
    from pipeline.mmpose_backend import MMPoseBackend

    return MMPoseBackend(**kwargs)


def make_backend(name: str, **kwargs: Any) -> PoseBackend:
    """The 2D backend called ``name`` (one of ``BACKENDS``), built with ``kwargs``.

    "mediapipe": ``MediaPipePeopleBackend(**kwargs)``, or with ``max_people=1`` the single-person
    ``MediaPipeBackend(**kwargs)``; "keypoints": ``KeypointFileBackend(path=...)``;
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
        if people == 1:
            return MediaPipeBackend(**kwargs)
        from pipeline.mediapipe_people import MediaPipePeopleBackend

        return MediaPipePeopleBackend(**kwargs) if people is None else MediaPipePeopleBackend(max_people=people, **kwargs)
    if name == "mmpose":
        return _make_mmpose(**kwargs)
    if name == "keypoints":
        if kwargs.get("path") is None:
            raise PoseMoEError("the keypoints 2D backend needs a keypoints file (path=...): our .npz/.json export "
                               "or mmpose's prediction JSON")
        return KeypointFileBackend(**kwargs)
    raise PoseMoEError(f"2D pose backend: expected one of {', '.join(BACKENDS)}, found {name!r}")
