"""Saving and loading the pipeline's results: 2D and 3D keypoints per tracked person and frame.

``save_results(path, results)`` writes a ``Results`` to ``.npz`` or ``.json`` (chosen by the
suffix), atomically: the data goes to a hidden temporary file in the same folder
(``.NAME.part``), which is renamed onto ``path`` only once it is complete, so ``path`` never
holds a partial file and an existing file there stays untouched if writing fails.
``load_results(path)`` reads either format back and validates it.

Schema ("posemoe-results-v2")
-----------------------------
P = number of tracked people, F = number of frames, J = 17 joints (Human3.6M order, below).
Version-1 files ("posemoe-results-v1", without the scene arrays) still load; their scene
fields are None (``pipeline.world.place_in_world`` computes them).

Arrays:

=============== ================ ======== =====================================================
key             shape            dtype    meaning
=============== ================ ======== =====================================================
``frame_index`` (F,)             int64    index of the frame in the input video (from 0)
``time_s``      (F,)             float64  time of the frame, seconds from the start of the video
``fps``         ()               float64  frames per second of the input video
``image_size``  (2,)             int64    (width, height) of the input frames, pixels
``track_ids``   (P,)             int64    one id per person (unique)
``keypoints2d`` (P, F, 17, 2)    float32  2D joints, pixels (x right, y down, origin top-left)
``scores2d``    (P, F, 17)       float32  2D detector confidence per joint, in [0, 1]
``keypoints3d`` (P, F, 17, 3)    float32  3D joints, metres, root-relative (pelvis = 0), camera
                                          axes: x right, y down, z forward (away from camera)
=============== ================ ======== =====================================================

Scene arrays (version 2; see ``posemoe.trajectory`` for how they are estimated):

===================== ============= ======= ==================================================
key                   shape         dtype   meaning
===================== ============= ======= ==================================================
``root_camera``       (P, F, 3)     float32 pelvis position in the camera frame, metres (camera
                                            axes as ``keypoints3d``)
``keypoints3d_world`` (P, F, 17, 3) float32 joints in the world frame, metres: x the camera's
                                            right made horizontal, y up, z horizontal towards the
                                            camera; floor at y = 0, origin on the floor below
                                            the camera
``foot_contact``      (P, F, 2)     uint8   1 where the right / left ankle touches the floor
``world_from_camera`` (3, 4)        float64 ``[R | t]``: world = R @ camera + t (t = (0, camera
                                            height, 0))
``focal_px``          ()            float64 focal length used to place people, pixels
``principal_px``      (2,)          float64 principal point used, pixels (the image centre)
===================== ============= ======= ==================================================

Where person p is absent in frame f, ``keypoints2d[p, f]``, ``keypoints3d[p, f]``,
``root_camera[p, f]`` and ``keypoints3d_world[p, f]`` are NaN, ``foot_contact[p, f]`` is 0
and ``scores2d[p, f]`` is 0 (``Results.present`` gives the (P, F) mask of finite 2D poses).

Joint order (``joint_names``): 0 pelvis, 1 right_hip, 2 right_knee, 3 right_ankle, 4 left_hip,
5 left_knee, 6 left_ankle, 7 spine, 8 thorax, 9 neck_nose, 10 head, 11 left_shoulder,
12 left_elbow, 13 left_wrist, 14 right_shoulder, 15 right_elbow, 16 right_wrist ("left" and
"right" are the person's own).

Metadata (a JSON object):

- ``format``: ``"posemoe-results-v2"``
- ``joints``: ``"h36m17"``; ``joint_names``: the 17 names above, in order
- ``units``: ``{"keypoints2d": "px", "keypoints3d": "m", "time_s": "s"}``
- ``axes``: the 3D axes convention, in words (as above)
- ``checkpoint``: ``{"name", "path", "sha256"}`` of the lifting checkpoint (``path`` and
  ``sha256`` null when only a name was given), or null
- ``backend2d``: ``{"name", "reason"}``: the 2D keypoint detector used and why it was chosen
- ``versions``: ``{"posemoe", "torch", "numpy", "python", ...}`` plus ``mediapipe``,
  ``ai-edge-litert`` (the 2D follower), ``mmpose`` and ``onnxruntime`` (the lifting) when installed
- ``created``: ISO 8601 time the results were made, with the UTC offset
- ``smoothing``: the temporal filter applied to the 3D (``posemoe.smoothing``), or null
- ``extra``: free-form JSON object for run settings (input video, options); may be empty

File formats:

- ``.npz`` (``numpy.savez_compressed``): the arrays above under their keys, plus ``meta``: the
  metadata as a JSON string (a 0-d unicode array; ``json.loads(str(npz["meta"]))``). Values are
  stored exactly. Load with ``np.load(path)`` (no pickle needed).
- ``.json``: one standard JSON object ``{"meta": {...}, "fps": ..., "image_size": [w, h],
  "frame_index": [...], ...}`` with the arrays as nested lists. NaN is written as ``null``. To
  keep files small numbers are rounded: ``keypoints2d`` to 0.01 px, ``keypoints3d`` to 0.0001 m
  (0.1 mm; also ``root_camera`` and ``keypoints3d_world``), ``scores2d`` to 0.0001, ``time_s`` to 1 microsecond (``fps`` is exact). A value read
  back is within half that step of the value saved (plus float32 rounding).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np

from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17

__all__ = [
    "FORMAT",
    "Results",
    "checkpoint_info",
    "collect_versions",
    "load_results",
    "save_results",
]

FORMAT = "posemoe-results-v2"
FORMATS_READ = ("posemoe-results-v1", FORMAT)
SUFFIXES = (".npz", ".json")
JOINTS = H36M17.name  # "h36m17"
JOINT_NAMES: tuple[str, ...] = H36M17.joint_names
NUM_JOINTS = len(JOINT_NAMES)
UNITS: dict[str, str] = {"keypoints2d": "px", "keypoints3d": "m", "time_s": "s", "root_camera": "m",
                         "keypoints3d_world": "m", "focal_px": "px"}
AXES = ("keypoints3d: camera axes, x right, y down, z forward (away from the camera); "
        "root-relative, pelvis at 0; keypoints2d: pixels, x right, y down, origin top-left; "
        "root_camera: camera axes, metres; keypoints3d_world: x the camera's right made horizontal, y up, "
        "z horizontal towards the camera, floor at y = 0, origin on the floor below the camera")

# decimals kept per array in the .json format (documented in the module docstring)
JSON_DECIMALS: dict[str, int] = {"keypoints2d": 2, "keypoints3d": 4, "scores2d": 4, "time_s": 6,
                                 "root_camera": 4, "keypoints3d_world": 4}

# distribution name -> module whose __version__ is a fallback when the distribution has no metadata
_VERSION_DISTS: dict[str, str] = {"posemoe": "posemoe", "torch": "torch", "numpy": "numpy"}
_OPTIONAL_DISTS: tuple[str, ...] = ("mediapipe", "ai-edge-litert", "mmpose", "onnxruntime")
_ARRAY_KEYS = ("frame_index", "time_s", "fps", "image_size", "track_ids", "keypoints2d", "scores2d",
               "keypoints3d")
SCENE_KEYS = ("root_camera", "keypoints3d_world", "foot_contact", "world_from_camera", "focal_px", "principal_px")


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def collect_versions() -> dict[str, str]:
    """Versions of posemoe, torch, numpy, python, and mediapipe, ai-edge-litert, mmpose and
    onnxruntime when installed.

    Read from package metadata (``importlib.metadata``); nothing is imported for it. A package
    without metadata falls back to the ``__version__`` of its module if already imported, else
    "unknown" (optional packages that are not installed are left out).
    """
    out: dict[str, str] = {}
    for dist, module in _VERSION_DISTS.items():
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = str(getattr(sys.modules.get(module), "__version__", "unknown"))
    out["python"] = platform.python_version()
    for dist in _OPTIONAL_DISTS:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_text_atomic(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_info(checkpoint: str | Path | None) -> dict[str, Any] | None:
    """The ``checkpoint`` metadata entry for a checkpoint file path or a bare name.

    An existing file gives ``{"name": file name, "path": absolute path, "sha256": hex digest}``;
    anything else (e.g. a preset name) gives ``{"name": str(checkpoint), "path": None,
    "sha256": None}``; None gives None.
    """
    if checkpoint is None:
        return None
    p = Path(checkpoint)
    if p.is_file():
        try:
            digest = file_sha256(p)
        except OSError as exc:
            raise PoseMoEError(
                f"{p}: cannot read the checkpoint to hash it ({exc.strerror or exc}); check its permissions"
            ) from None
        return {"name": p.name, "path": str(p.resolve()), "sha256": digest}
    return {"name": str(checkpoint), "path": None, "sha256": None}


# ---------------------------------------------------------------------------------------- Results


def _array(value: Any, name: str, dtype: type, shape: tuple[int, ...] | None, shape_text: str) -> np.ndarray:
    """``value`` as a C-contiguous array of ``dtype`` with ``shape``, or PoseMoEError."""
    try:
        arr = np.asarray(value)
        if arr.size == 0 and shape is not None:
            arr = arr.reshape(shape)  # nested empty lists from JSON lose their inner dimensions
        if np.issubdtype(dtype, np.integer) and arr.size and arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise ValueError("non-integer values")
        arr = np.ascontiguousarray(arr, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise PoseMoEError(
            f"Results.{name}: expected {np.dtype(dtype).name} numbers of shape {shape_text}, "
            f"found values that do not convert ({exc})"
        ) from None
    if shape is not None and arr.shape != shape:
        raise PoseMoEError(
            f"Results.{name}: expected shape {shape_text} = {shape}, found {arr.shape}"
        )
    return arr


@dataclass(eq=False)
class Results:
    """The pipeline's output for one video; see the module docstring for the schema.

    Arrays are converted on construction (ints to int64, ``time_s`` to float64, keypoints and
    scores to float32) and checked for consistent shapes: ``frame_index`` fixes F,
    ``track_ids`` fixes P. Metadata constants (``FORMAT``, ``JOINTS``, ``JOINT_NAMES``,
    ``UNITS``, ``AXES``) are class attributes, written to every file.
    """

    frame_index: np.ndarray  # (F,) int64
    time_s: np.ndarray  # (F,) float64 seconds
    fps: float
    image_size: tuple[int, int]  # (width, height) px
    track_ids: np.ndarray  # (P,) int64
    keypoints2d: np.ndarray  # (P, F, 17, 2) float32 px, NaN where absent
    scores2d: np.ndarray  # (P, F, 17) float32 in [0, 1], 0 where absent
    keypoints3d: np.ndarray  # (P, F, 17, 3) float32 m, root-relative, camera axes, NaN where absent
    checkpoint: dict[str, Any] | None = None  # see checkpoint_info()
    backend2d: dict[str, str] = field(default_factory=lambda: {"name": "unknown", "reason": ""})
    versions: dict[str, str] = field(default_factory=collect_versions)
    created: str = field(default_factory=_now_iso)
    extra: dict[str, Any] = field(default_factory=dict)
    # scene (version 2); None in version-1 files, all given or none
    root_camera: np.ndarray | None = None  # (P, F, 3) float32 m, camera frame
    keypoints3d_world: np.ndarray | None = None  # (P, F, 17, 3) float32 m, world frame
    foot_contact: np.ndarray | None = None  # (P, F, 2) uint8, right / left ankle on the floor
    world_from_camera: np.ndarray | None = None  # (3, 4) float64
    focal_px: float | None = None
    principal_px: tuple[float, float] | None = None
    smoothing: dict[str, Any] | None = None  # posemoe.smoothing.Smoothing.describe(), or None

    FORMAT: ClassVar[str] = FORMAT
    JOINTS: ClassVar[str] = JOINTS
    JOINT_NAMES: ClassVar[tuple[str, ...]] = JOINT_NAMES
    UNITS: ClassVar[dict[str, str]] = UNITS
    AXES: ClassVar[str] = AXES

    def __post_init__(self) -> None:
        self.frame_index = _array(self.frame_index, "frame_index", np.int64, None, "(F,)")
        if self.frame_index.ndim != 1:
            raise PoseMoEError(f"Results.frame_index: expected shape (F,), found {self.frame_index.shape}")
        n_frames = self.frame_index.shape[0]
        self.time_s = _array(self.time_s, "time_s", np.float64, (n_frames,), "(F,)")
        if not np.all(np.isfinite(self.time_s)):
            raise PoseMoEError("Results.time_s: expected finite seconds, found NaN or infinity")
        try:
            fps = float(np.asarray(self.fps).item())
        except (TypeError, ValueError):
            fps = math.nan
        if not (fps > 0 and math.isfinite(fps)):
            raise PoseMoEError(f"Results.fps: expected a positive frame rate, found {self.fps!r}")
        self.fps = fps
        size = _array(self.image_size, "image_size", np.int64, (2,), "(2,) = (width, height)")
        if np.any(size <= 0):
            raise PoseMoEError(f"Results.image_size: expected positive (width, height), found {tuple(size)}")
        self.image_size = (int(size[0]), int(size[1]))
        self.track_ids = _array(self.track_ids, "track_ids", np.int64, None, "(P,)")
        if self.track_ids.ndim != 1:
            raise PoseMoEError(f"Results.track_ids: expected shape (P,), found {self.track_ids.shape}")
        if len(np.unique(self.track_ids)) != len(self.track_ids):
            raise PoseMoEError(f"Results.track_ids: expected unique ids, found {self.track_ids.tolist()}")
        n_people = self.track_ids.shape[0]
        pf = (n_people, n_frames)
        self.keypoints2d = _array(self.keypoints2d, "keypoints2d", np.float32, (*pf, NUM_JOINTS, 2),
                                  "(P, F, 17, 2)")
        self.scores2d = _array(self.scores2d, "scores2d", np.float32, (*pf, NUM_JOINTS), "(P, F, 17)")
        self.keypoints3d = _array(self.keypoints3d, "keypoints3d", np.float32, (*pf, NUM_JOINTS, 3),
                                  "(P, F, 17, 3)")
        scores = self.scores2d
        if scores.size and not (np.all(np.isfinite(scores)) and scores.min() >= 0 and scores.max() <= 1):
            raise PoseMoEError("Results.scores2d: expected confidences in [0, 1], found values outside "
                               "(or NaN); use 0 where a person is absent")
        self._check_scene(pf)
        self._check_meta()

    def _check_scene(self, pf: tuple[int, int]) -> None:
        given = [k for k in SCENE_KEYS if getattr(self, k) is not None]
        if not given:
            return
        if len(given) != len(SCENE_KEYS):
            missing = [k for k in SCENE_KEYS if k not in given]
            raise PoseMoEError(f"Results: the scene fields come together; {', '.join(missing)} missing "
                               f"(pipeline.world.place_in_world fills them all)")
        self.root_camera = _array(self.root_camera, "root_camera", np.float32, (*pf, 3), "(P, F, 3)")
        self.keypoints3d_world = _array(self.keypoints3d_world, "keypoints3d_world", np.float32,
                                        (*pf, NUM_JOINTS, 3), "(P, F, 17, 3)")
        self.foot_contact = _array(self.foot_contact, "foot_contact", np.uint8, (*pf, 2), "(P, F, 2)")
        self.world_from_camera = _array(self.world_from_camera, "world_from_camera", np.float64, (3, 4), "(3, 4)")
        focal = float(np.asarray(self.focal_px, dtype=np.float64).reshape(-1)[0]) if np.size(self.focal_px) == 1 else math.nan
        if not (focal > 0 and math.isfinite(focal)):
            raise PoseMoEError(f"Results.focal_px: expected a positive number of pixels, found {self.focal_px!r}")
        self.focal_px = focal
        pp = _array(self.principal_px, "principal_px", np.float64, (2,), "(2,)")
        self.principal_px = (float(pp[0]), float(pp[1]))
        if self.smoothing is not None and not isinstance(self.smoothing, dict):
            raise PoseMoEError(f"Results.smoothing: expected a dict or None, found {type(self.smoothing).__name__}")

    @property
    def has_scene(self) -> bool:
        """True when the scene fields (root trajectory, world frame, foot contact) are present."""
        return self.root_camera is not None

    def _check_meta(self) -> None:
        if self.checkpoint is not None and not isinstance(self.checkpoint, dict):
            raise PoseMoEError(f"Results.checkpoint: expected a dict from checkpoint_info() or None, "
                               f"found {type(self.checkpoint).__name__}")
        b = self.backend2d
        if not (isinstance(b, dict) and isinstance(b.get("name"), str) and isinstance(b.get("reason"), str)):
            raise PoseMoEError(f"Results.backend2d: expected {{'name': str, 'reason': str}}, found {b!r:.80}")
        for name in ("versions", "extra"):
            if not isinstance(getattr(self, name), dict):
                raise PoseMoEError(f"Results.{name}: expected a dict, found {type(getattr(self, name)).__name__}")
        if not isinstance(self.created, str):
            raise PoseMoEError(f"Results.created: expected an ISO timestamp string, found {self.created!r}")

    @property
    def num_people(self) -> int:
        """P."""
        return int(self.track_ids.shape[0])

    @property
    def num_frames(self) -> int:
        """F."""
        return int(self.frame_index.shape[0])

    @property
    def present(self) -> np.ndarray:
        """(P, F) bool: person p has a finite 2D pose in frame f."""
        return np.all(np.isfinite(self.keypoints2d), axis=(-2, -1))

    def meta(self) -> dict[str, Any]:
        """The metadata object written to files (plain JSON types)."""
        return {
            "format": FORMAT,
            "joints": JOINTS,
            "joint_names": list(JOINT_NAMES),
            "units": dict(UNITS),
            "axes": AXES,
            "checkpoint": self.checkpoint,
            "backend2d": self.backend2d,
            "versions": self.versions,
            "created": self.created,
            "smoothing": self.smoothing,
            "extra": self.extra,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the schema by key (``fps`` 0-d float64, ``image_size`` (2,) int64)."""
        scene = {} if not self.has_scene else {
            "root_camera": self.root_camera,
            "keypoints3d_world": self.keypoints3d_world,
            "foot_contact": self.foot_contact,
            "world_from_camera": self.world_from_camera,
            "focal_px": np.asarray(self.focal_px, dtype=np.float64),
            "principal_px": np.asarray(self.principal_px, dtype=np.float64),
        }
        return {
            "frame_index": self.frame_index,
            "time_s": self.time_s,
            "fps": np.asarray(self.fps, dtype=np.float64),
            "image_size": np.asarray(self.image_size, dtype=np.int64),
            "track_ids": self.track_ids,
            "keypoints2d": self.keypoints2d,
            "scores2d": self.scores2d,
            "keypoints3d": self.keypoints3d,
        } | scene


# ------------------------------------------------------------------------------------------ write


def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise PoseMoEError(
            f"{path}: unknown results format {path.suffix or '(no suffix)'!r}; name the file .npz or .json"
        )
    return suffix


def _meta_json(results: Results, path: Path) -> str:
    try:
        return json.dumps(results.meta(), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise PoseMoEError(
            f"{path}: the results' metadata is not plain JSON ({exc}); keep checkpoint/backend2d/versions/"
            f"extra to strings, numbers, lists and dicts"
        ) from None


def _rounded_list(arr: np.ndarray, decimals: int) -> list:
    """Nested lists of ``arr`` rounded to ``decimals`` (as float64, so 1.23 prints as 1.23), NaN -> None."""
    values = np.round(arr.astype(np.float64), decimals)
    nan = np.isnan(values)
    if not nan.any():
        return values.tolist()
    obj = values.astype(object)
    obj[nan] = None
    return obj.tolist()


def _write_npz(fh: BinaryIO, results: Results, meta: str) -> None:
    np.savez_compressed(fh, meta=np.asarray(meta), **results.arrays())


def _write_json(fh: BinaryIO, results: Results, meta: str) -> None:
    fh.write(b'{"meta":' + meta.encode("utf-8"))
    fh.write(f',"fps":{json.dumps(results.fps)},"image_size":{json.dumps(list(results.image_size))}'.encode())
    fh.write(f',"frame_index":{json.dumps(results.frame_index.tolist())}'.encode())
    fh.write(f',"track_ids":{json.dumps(results.track_ids.tolist())}'.encode())
    keys = ["time_s", "keypoints2d", "scores2d", "keypoints3d"]
    if results.has_scene:
        keys += ["root_camera", "keypoints3d_world"]
        fh.write(f',"focal_px":{json.dumps(results.focal_px)},"principal_px":{json.dumps(list(results.principal_px))}'
                 .encode())
        fh.write(f',"world_from_camera":{json.dumps(results.world_from_camera.tolist())}'.encode())
        fh.write(f',"foot_contact":{json.dumps(results.foot_contact.tolist(), separators=(",", ":"))}'.encode())
    for key in keys:
        values = _rounded_list(getattr(results, key), JSON_DECIMALS[key])
        fh.write(f',\n"{key}":'.encode() + json.dumps(values, allow_nan=False, separators=(",", ":")).encode())
    fh.write(b"}\n")


def save_results(path: str | Path, results: Results) -> Path:
    """Write ``results`` to ``path`` (``.npz`` or ``.json``) atomically; returns ``path``.

    Raises PoseMoEError for another suffix, a missing or unwritable output folder, a folder at
    ``path`` and a failed write (``path`` is then left as it was).
    """
    path = Path(path)
    suffix = _check_suffix(path)
    if not isinstance(results, Results):
        raise PoseMoEError(f"{path}: expected a pipeline.export.Results to save, found {type(results).__name__}")
    folder = path.parent
    if not folder.is_dir():
        raise PoseMoEError(f"{path}: output folder {folder} does not exist; create it first")
    if path.is_dir():
        raise PoseMoEError(f"{path}: is a folder; give the results a file name, e.g. results{suffix}")
    meta = _meta_json(results, path)
    writer = _write_npz if suffix == ".npz" else _write_json
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, "wb") as fh:
            writer(fh, results, meta)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise PoseMoEError(
                f"{path}: cannot write the results ({exc.strerror or exc}); check the folder's permissions "
                f"and free disk space"
            ) from None
        raise
    return path


# ------------------------------------------------------------------------------------------- read


def _bad(path: Path, problem: str) -> PoseMoEError:
    return PoseMoEError(f"{path}: {problem}; pass a {FORMAT} file written by pipeline.export.save_results")


def _read_npz(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise _bad(path, f"cannot read it ({exc.strerror or exc})") from None
    if magic[:2] != b"PK":  # every .npz is a zip archive
        raise _bad(path, "not a readable .npz file (not a zip archive)")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise _bad(path, f"a single .npy array of shape {np.shape(loaded)}, not an .npz archive")
        with loaded as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _bad(path, f"not a readable .npz file ({reason[:100]})") from None
    if "meta" not in data:
        raise _bad(path, f"no 'meta' entry (keys: {sorted(data)})")
    try:
        meta = json.loads(str(data.pop("meta")))
    except (json.JSONDecodeError, TypeError):
        raise _bad(path, "its 'meta' entry is not JSON") from None
    return meta, data


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-standard JSON constant {name}")


def _read_json(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise _bad(path, "not a text (UTF-8 JSON) file") from None
    except json.JSONDecodeError as exc:
        raise _bad(path, f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except ValueError as exc:
        raise _bad(path, f"not standard JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise _bad(path, f"expected a JSON object, found {type(doc).__name__}")
    meta = doc.pop("meta", None)
    if not isinstance(meta, dict):
        raise _bad(path, f"no 'meta' object (keys: {sorted(doc)[:10]})")
    arrays: dict[str, Any] = {}
    for key, value in doc.items():
        if key in JSON_DECIMALS:  # float arrays: null -> NaN
            try:
                value = np.array(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise _bad(path, f"'{key}' is not a (nested) list of numbers") from None
        arrays[key] = value
    return meta, arrays


def load_results(path: str | Path) -> Results:
    """Read a results file written by ``save_results`` (``.npz`` or ``.json``; NaN from null).

    Raises PoseMoEError (one line naming the file) for a missing file, another suffix, a file that
    is not results of this format, and inconsistent shapes.
    """
    path = Path(path)
    suffix = _check_suffix(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "no such file"
        raise PoseMoEError(f"{path}: {what}; pass the path of a results{suffix} file")
    meta, arrays = _read_npz(path) if suffix == ".npz" else _read_json(path)
    if not isinstance(meta, dict) or meta.get("format") not in FORMATS_READ:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise _bad(path, f"format is {found!r}, expected {FORMAT!r}")
    if meta.get("joints") != JOINTS or list(meta.get("joint_names", [])) != list(JOINT_NAMES):
        raise _bad(path, f"joint layout is {meta.get('joints')!r}, expected {JOINTS!r} in posemoe's order")
    missing = [k for k in _ARRAY_KEYS if k not in arrays]
    if missing:
        raise _bad(path, f"missing entries {missing}")
    try:
        return Results(
            **{k: arrays[k] for k in _ARRAY_KEYS},
            checkpoint=meta.get("checkpoint"),
            backend2d=meta.get("backend2d", {"name": "unknown", "reason": ""}),
            versions=meta.get("versions", {}),
            created=meta.get("created", ""),
            extra=meta.get("extra", {}),
            smoothing=meta.get("smoothing"),
            **{k: arrays.get(k) for k in SCENE_KEYS},
        )
    except PoseMoEError as exc:
        raise PoseMoEError(f"{path}: {exc}; the file is damaged or was not written by save_results") from None
