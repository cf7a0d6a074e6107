"""Camera model of Human3.6M: world <-> camera transforms, distorted projection, screen normalisation.

Conventions: ``X_cam = R @ (X_world - center)`` in metres; the projection divides by depth,
applies 3 radial (k) and 2 tangential (p) distortion terms and maps to pixels with focal length
``f`` and principal point ``c``. Normalised screen coordinates map x in [0, w] to [-1, 1] and
keep the aspect ratio: ``x / w * 2 - 1``, ``y / w * 2 - h / w``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from posemoe.errors import PoseMoEError
from posemoe.skeleton import is_torch_tensor

if TYPE_CHECKING:
    import torch

ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")  # torch is not imported here

H36M_CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
PACKAGED_FORMAT = "posemoe-cameras-v1"
_PACKAGED_NAME = "h36m_cameras.json"

# field -> expected shape for the array fields of a camera entry
_ARRAY_FIELDS: dict[str, tuple[int, ...]] = {
    "R": (3, 3), "center": (3,), "f": (2,), "c": (2,), "k": (3,), "p": (2,),
}


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera (intrinsics in pixels, extrinsics in metres)."""

    id: str
    R: np.ndarray  # (3, 3) rows = camera axes in world coordinates
    center: np.ndarray  # (3,) camera centre in world metres
    f: np.ndarray  # (2,) focal length, pixels
    c: np.ndarray  # (2,) principal point, pixels
    k: np.ndarray  # (3,) radial distortion
    p: np.ndarray  # (2,) tangential distortion
    res_w: int
    res_h: int

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (lists and ints)."""
        d: dict[str, Any] = {name: getattr(self, name).tolist() for name in _ARRAY_FIELDS}
        d["res_w"] = int(self.res_w)
        d["res_h"] = int(self.res_h)
        return d


def _check_last(x: np.ndarray, n: int, what: str) -> None:
    if x.ndim < 1 or x.shape[-1] != n:
        raise PoseMoEError(f"{what}: expected shape (..., {n}), found {tuple(x.shape)}")


def world_to_camera(X: np.ndarray, cam: Camera) -> np.ndarray:
    """World points (..., 3) -> camera coordinates (..., 3): ``R @ (X - center)``."""
    X = np.asarray(X)
    _check_last(X, 3, "world_to_camera input")
    return (X - cam.center) @ cam.R.T


def camera_to_world(X_cam: np.ndarray, cam: Camera) -> np.ndarray:
    """Camera coordinates (..., 3) -> world points (..., 3): ``R^T @ X_cam + center``."""
    X_cam = np.asarray(X_cam)
    _check_last(X_cam, 3, "camera_to_world input")
    return X_cam @ cam.R + cam.center


def project_to_pixels(X_cam: np.ndarray, cam: Camera) -> np.ndarray:
    """Camera coordinates (..., 3) -> distorted pixel coordinates (..., 2)."""
    X_cam = np.asarray(X_cam)
    _check_last(X_cam, 3, "project_to_pixels input")
    x = X_cam[..., :2] / X_cam[..., 2:3]  # (..., 2) on the z = 1 plane
    r2 = np.sum(x * x, axis=-1, keepdims=True)  # (..., 1)
    k0, k1, k2 = cam.k
    p0, p1 = cam.p
    radial = 1.0 + k0 * r2 + k1 * r2**2 + k2 * r2**3
    tangential = p0 * x[..., 1:2] + p1 * x[..., 0:1]
    x_d = x * (radial + tangential) + np.array([p1, p0]) * r2
    return cam.f * x_d + cam.c


def _copy_float(xy: ArrayT) -> ArrayT:
    if is_torch_tensor(xy):
        return xy.clone() if xy.is_floating_point() else xy.float()
    xy = np.asarray(xy)
    return xy.astype(np.result_type(xy.dtype, np.float32), copy=True)


def normalize_screen(xy: ArrayT, w: float, h: float) -> ArrayT:
    """Pixels (..., >=2) -> normalised screen coordinates; channels after x, y are kept."""
    xy = xy if is_torch_tensor(xy) else np.asarray(xy)
    _check_last_min2(xy, "normalize_screen input")
    out = _copy_float(xy)
    out[..., 0] = xy[..., 0] / w * 2 - 1
    out[..., 1] = xy[..., 1] / w * 2 - h / w
    return out


def denormalize_screen(xy_n: ArrayT, w: float, h: float) -> ArrayT:
    """Normalised screen coordinates (..., >=2) -> pixels; inverse of ``normalize_screen``."""
    xy_n = xy_n if is_torch_tensor(xy_n) else np.asarray(xy_n)
    _check_last_min2(xy_n, "denormalize_screen input")
    out = _copy_float(xy_n)
    out[..., 0] = (xy_n[..., 0] + 1) * w / 2
    out[..., 1] = (xy_n[..., 1] + h / w) * w / 2
    return out


def _check_last_min2(x: np.ndarray | torch.Tensor, what: str) -> None:
    shape = tuple(x.shape)
    if len(shape) < 1 or shape[-1] < 2:
        raise PoseMoEError(f"{what}: expected shape (..., >=2), found {shape}")


def _parse_camera(entry: Any, cam_id: str, where: str) -> Camera:
    if not isinstance(entry, dict):
        raise PoseMoEError(f"{where}: expected an object with camera fields, found {type(entry).__name__}")
    missing = [k for k in (*_ARRAY_FIELDS, "res_w", "res_h") if k not in entry]
    if missing:
        raise PoseMoEError(f"{where}: expected fields {missing} too, found keys {sorted(entry)}")
    arrays: dict[str, np.ndarray] = {}
    for name, shape in _ARRAY_FIELDS.items():
        try:
            arr = np.asarray(entry[name], dtype=np.float64)
        except (TypeError, ValueError):
            raise PoseMoEError(f"{where}.{name}: expected numbers of shape {shape}, found {entry[name]!r}") from None
        if arr.shape != shape:
            raise PoseMoEError(f"{where}.{name}: expected shape {shape}, found {arr.shape}")
        arr.setflags(write=False)
        arrays[name] = arr
    res: dict[str, int] = {}
    for name in ("res_w", "res_h"):
        value = entry[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value <= 0:
            raise PoseMoEError(f"{where}.{name}: expected a positive integer, found {value!r}")
        res[name] = int(value)
    return Camera(id=cam_id, **arrays, **res)


def _read_json(path: Path | None) -> tuple[Any, str]:
    if path is None:
        name = f"posemoe/resources/{_PACKAGED_NAME}"
        text = resources.files("posemoe").joinpath("resources", _PACKAGED_NAME).read_text(encoding="utf-8")
    else:
        name = str(path)
        if not path.is_file():
            raise PoseMoEError(f"{name}: expected a camera calibration JSON file, found no such file")
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text), name
    except json.JSONDecodeError as e:
        raise PoseMoEError(f"{name}: expected valid JSON, found a syntax error at line {e.lineno} ({e.msg})") from None


def load_h36m_cameras(path: str | Path | None = None) -> dict[str, dict[str, Camera]]:
    """Load calibration: subject -> camera id -> Camera.

    ``path=None`` reads the calibration packaged with posemoe. Accepts the packaged format
    (``{"format": "posemoe-cameras-v1", "subjects": {...}}``) and the original ``cameras.json``
    layout (subjects at top level, keys starting with "_" ignored).
    """
    data, name = _read_json(None if path is None else Path(path))
    if not isinstance(data, dict):
        raise PoseMoEError(f"{name}: expected a JSON object of subjects, found {type(data).__name__}")
    if "format" in data:
        if data["format"] != PACKAGED_FORMAT or not isinstance(data.get("subjects"), dict):
            raise PoseMoEError(
                f"{name}: expected format {PACKAGED_FORMAT!r} with a 'subjects' object, "
                f"found format {data['format']!r} and keys {sorted(data)}"
            )
        subjects = data["subjects"]
    else:
        subjects = {k: v for k, v in data.items() if not k.startswith("_")}
    if not subjects:
        raise PoseMoEError(f"{name}: expected at least one subject, found keys {sorted(data)}")
    out: dict[str, dict[str, Camera]] = {}
    for subject, cams in subjects.items():
        if not isinstance(cams, dict) or not cams:
            raise PoseMoEError(
                f"{name}: expected subject {subject!r} to map camera ids to calibrations, "
                f"found {type(cams).__name__} {cams!r:.60}"
            )
        out[subject] = {
            cam_id: _parse_camera(entry, cam_id, f"{name}: {subject}/{cam_id}")
            for cam_id, entry in cams.items()
        }
    return out
