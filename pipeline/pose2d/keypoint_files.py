"""The ``keypoints`` 2D backend: keypoints computed earlier, read from a file; no detector runs.

Two kinds of file (``KeypointFileBackend`` tells them apart):

- posemoe's own results (``.npz`` / ``.json``, written by ``posemoe video --save`` or
  ``pipeline.export.save_results``): read with ``pipeline.export.load_results``, the one reader
  of that format. A file in the same layout written by other means (``joints`` at the top level
  or in ``meta``, ``fps`` / ``image_size`` null when unknown, no ``keypoints3d``; the schema in
  ``KeypointFileBackend``'s docstring), or a results file that ``load_results`` turns away, is
  read field by field here instead, so that what is wrong is named field by field (a missing
  field, a shape, 33 joints where 17 are expected, ...).
- mmpose's prediction JSON (``MMPoseInferencer(..., pred_out_dir=...)``), read by the small
  reader below; its COCO-17 keypoints are converted with ``posemoe.skeleton.coco17_to_h36m17``.

Every problem with the file is a one-line ``PoseMoEError`` that starts with
``keypoints file PATH:`` and ends with what to pass instead.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any, Iterator, NoReturn, Sequence

import numpy as np

from pipeline.export import Results, load_results
from pipeline.pose2d.base import NUM_JOINTS, Detection, PoseBackend, check_frame
from posemoe.errors import PoseMoEError
from posemoe.skeleton import coco17_to_h36m17

__all__ = ["KEYPOINT_FILE_JOINTS", "KeypointFileBackend"]

KEYPOINT_FILE_JOINTS = "h36m17"  # the ``joints`` field of our keypoint files


def _as_float(value: Any) -> np.ndarray:
    """Nested lists (JSON null -> NaN) or an array -> float64 array; ValueError if ragged."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    return np.array(value, dtype=np.float64)


class KeypointFileBackend(PoseBackend):
    """Keypoints computed earlier, read from a file: no detector runs (frame pixels are ignored).

    path: one of
      (a) our own results (``.npz`` or ``.json``, as ``pipeline.export.save_results`` writes
          them; read with ``pipeline.export.load_results``), or a file in their layout written
          by other means, which needs only: ``joints`` = "h36m17" (at the top level, or inside
          the ``meta`` object, which an .npz stores as a JSON string), ``frame_index`` (F,),
          ``time_s`` (F,) seconds, ``fps`` (null/NaN when unknown), ``image_size`` (w, h) (null
          or empty when unknown), ``track_ids`` (P,), ``keypoints2d`` (P, F, 17, 2) pixels,
          ``scores2d`` (P, F, 17) and optionally ``keypoints3d`` (P, F, 17, 3) metres; NaN where
          a person is absent (JSON: null). Other fields are ignored. A person is present in a
          frame when any of their 2D joints is finite.
      (b) mmpose's prediction JSON (``MMPoseInferencer(..., pred_out_dir=...)``): for a video a
          list over frames ``{"frame_id", "instances": [{"keypoints" (17 x [x, y]),
          "keypoint_scores" (17), "bbox" ([[x1, y1, x2, y2]]), "bbox_score"}, ...]}``, for an
          image a list of instances (one frame, index 0). Keypoints are COCO-17 and converted
          with ``coco17_to_h36m17``; the box and person score are mmpose's when given.

    Attributes: ``format`` ("posemoe" or "mmpose"); ``frame_indices`` (F,) int64, in file order;
    ``num_frames`` F; ``fps`` and ``image_size`` (w, h) when the file says (else None);
    ``time_s`` (F,) or None; for our format also ``track_ids`` (P,), ``keypoints2d``,
    ``scores2d``, ``keypoints3d`` (or None) as float64 arrays, else None; ``results``: the
    ``pipeline.export.Results`` when ``load_results`` read the file, else None. Calling it with a
    frame index not in the file returns ``[]``; calling it with a frame whose size differs from
    ``image_size`` is an error.
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
        self.results: Results | None = None
        self._mmpose_frames: list[list[Detection]] | None = None
        if not self.path.is_file():
            self._fail("not found (or not a file)", "pass the .npz/.json keypoints export or mmpose's prediction JSON")
        if not os.access(self.path, os.R_OK):
            self._fail("permission denied (not readable)", "fix its permissions, e.g. chmod +r")
        suffix = self.path.suffix.lower()
        if suffix in (".npz", ".json") and not self._json_list():
            self.results = self._try_results()
        if self.results is not None:
            self._load_results(self.results)
        elif suffix == ".npz":
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
        fix = fix or ("pass a file written by `posemoe video --save` (schema in docs/formats.md) or mmpose's "
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

    # --- (a) our results, read by pipeline.export

    def _json_list(self) -> bool:
        """Whether the file is a .json whose top level is a list (mmpose's predictions, not our results)."""
        if self.path.suffix.lower() != ".json":
            return False
        try:
            with open(self.path, "rb") as fh:
                return fh.read(4096).lstrip()[:1] == b"["
        except OSError:  # the JSON reader below says what is wrong
            return False

    def _try_results(self) -> Results | None:
        """The file read by ``load_results``, or None when it is not a results file it accepts (the
        field-by-field reader below then reads it or names what is wrong)."""
        try:
            return load_results(self.path)
        except PoseMoEError:
            return None

    def _load_results(self, results: Results) -> None:
        self.format = "posemoe"
        self._set_frame_indices(results.frame_index)
        self.time_s = results.time_s
        self.fps = results.fps
        self.image_size = results.image_size
        self.track_ids = results.track_ids
        self.keypoints2d = results.keypoints2d.astype(np.float64)
        self.scores2d = results.scores2d.astype(np.float64)
        self.keypoints3d = results.keypoints3d.astype(np.float64)

    def _set_frame_indices(self, frames: np.ndarray) -> None:
        """Set ``frame_indices``: each frame once, none negative (the readers check the rest)."""
        if np.any(frames < 0):
            self._fail("field 'frame_index': expected non-negative integers")
        if len(np.unique(frames)) != len(frames):
            self._fail("field 'frame_index': expected each frame once, found repeated indices")
        self.frame_indices = frames

    # --- (a') our layout written by other means, and diagnostics for results that do not load

    def _load_own(self, data: dict[str, Any], fmt: str) -> None:
        self.format = "posemoe"
        joints = self._joints(data)
        if joints != KEYPOINT_FILE_JOINTS:
            self._fail(f"field 'joints': expected {KEYPOINT_FILE_JOINTS!r}, found {joints!r}",
                       "convert the keypoints to H36M17 before writing (posemoe.skeleton)")
        frames = self._field(data, "frame_index", ("F",), fmt)
        f = len(frames)
        if not np.all(np.isfinite(frames)) or not np.all(frames == np.round(frames)):
            self._fail("field 'frame_index': expected non-negative integers")
        self._set_frame_indices(frames.astype(np.int64))
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
            frame = check_frame(frame_bgr, "KeypointFileBackend")
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
