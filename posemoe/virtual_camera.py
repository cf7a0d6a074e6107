"""Virtual pinhole cameras: film a motion-capture sequence again from any viewpoint.

Training draws a new camera for every clip (`sample_camera`), so that the network sees people
filmed by phones and long lenses, from the floor and from above, small and large, anywhere in a
landscape or portrait frame, not only through Human3.6M's four cameras. Evaluation films the test
motion through a fixed, named set (`EVAL_CAMERAS`) to measure how much the error depends on the
camera.

World coordinates are Human3.6M's: metres, z up, the floor at z = 0. Camera axes are x right,
y down, z forward; ``X_cam = R @ (X_world - center)``; pixels ``f * X_cam[:2] / X_cam[2] + c``
(square pixels, no lens distortion).

The random camera (`CameraRanges` holds the ranges):
- frame: 1920x1080, 1280x720, 1080x1920, 720x1280 or 1000x1000;
- lens: 35 mm-equivalent focal length log-uniform in 13-135 mm (phone ultra-wide to telephoto);
- distance to the person: log-uniform in 2-15 m, moved back (and at 15 m the lens shortened) until
  a 1.9 m body fits in 90 % of the frame's height;
- height: looking at the person's pelvis from -10 degrees (below, near the floor) to 45 degrees
  above (the camera is never put below 0.1 m);
- any azimuth around the person, roll normal with 5 degrees standard deviation (at most 15);
- placement: the pelvis lands anywhere in the frame that keeps the body inside it, edges included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from posemoe.errors import PoseMoEError

FULL_FRAME_DIAGONAL_MM = 43.27  # diagonal of a 36 x 24 mm frame: 35 mm-equivalent focal lengths
WORLD_UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True, eq=False)
class PinholeCamera:
    """A distortion-free camera: rotation, centre (world metres), focal length and principal
    point (pixels), frame size."""

    R: np.ndarray  # (3, 3) rows = camera axes (x right, y down, z forward) in world coordinates
    center: np.ndarray  # (3,) world metres
    f: float  # pixels
    c: np.ndarray  # (2,) pixels
    res_w: int
    res_h: int

    def world_to_camera(self, X: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> camera coordinates (..., 3)."""
        return (np.asarray(X, dtype=np.float64) - self.center) @ self.R.T

    def project(self, X_cam: np.ndarray) -> np.ndarray:
        """Camera coordinates (..., 3) -> pixels (..., 2)."""
        X_cam = np.asarray(X_cam, dtype=np.float64)
        return self.f * X_cam[..., :2] / X_cam[..., 2:3] + self.c


def focal_from_35mm(f35: float, res_w: int, res_h: int) -> float:
    """Focal length in pixels of a lens whose 35 mm-equivalent focal length is `f35` (mm)."""
    return f35 * math.hypot(res_w, res_h) / FULL_FRAME_DIAGONAL_MM


def look_at(center: np.ndarray, target: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    """Rotation (3, 3) of a camera at `center` whose optical axis points at `target`, image
    y pointing down the world's up axis, then turned by `roll_deg` about the optical axis."""
    fwd = np.asarray(target, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, WORLD_UP)
    if np.linalg.norm(right) < 1e-6:  # looking straight up or down
        raise PoseMoEError("look_at: the camera looks straight up or down; tilt it")
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    R = np.stack([right, down, fwd])
    a = math.radians(roll_deg)
    roll = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    return roll @ R


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector `a` to unit vector `b` (Rodrigues)."""
    v = np.cross(a, b)
    s, c = np.linalg.norm(v), float(np.dot(a, b))
    if s < 1e-12:
        return np.eye(3)
    k = v / s
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * K + (1 - c) * K @ K


def place_target(R: np.ndarray, f: float, c: np.ndarray, pixel: tuple[float, float]) -> np.ndarray:
    """Turn a camera that looks at its target (on the optical axis) so that the target is seen
    at `pixel` instead; returns the new rotation."""
    ray = np.array([(pixel[0] - c[0]) / f, (pixel[1] - c[1]) / f, 1.0])
    ray /= np.linalg.norm(ray)
    # camera coordinates of the target are Q @ (0, 0, d) after the turn: Q maps the axis to the ray
    return _rotation_between(np.array([0.0, 0.0, 1.0]), ray) @ R


def camera_around(target: np.ndarray, *, res: tuple[int, int], f: float, distance: float, elevation_deg: float,
                  azimuth_deg: float, roll_deg: float = 0.0, pixel: tuple[float, float] | None = None,
                  min_height: float = 0.1) -> PinholeCamera:
    """A camera `distance` metres from `target` (world), seen from `elevation_deg` above its
    horizontal plane and `azimuth_deg` around the up axis, with `target` at `pixel` (default the
    frame's centre). A camera that would be below `min_height` above the floor looks up less, at
    the same distance, from that height."""
    target = np.asarray(target, dtype=np.float64)
    el, az = math.radians(elevation_deg), math.radians(azimuth_deg)
    if target[2] + distance * math.sin(el) < min_height:  # below the floor: look up less, same distance
        el = math.asin(max(-1.0, min(1.0, (min_height - target[2]) / distance)))
    offset = distance * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    center = target + offset
    w, h = res
    cpt = np.array([w / 2.0, h / 2.0])
    R = look_at(center, target, roll_deg)
    if pixel is not None:
        R = place_target(R, f, cpt, pixel)
    return PinholeCamera(R=R, center=center, f=float(f), c=cpt, res_w=int(w), res_h=int(h))


@dataclass(frozen=True)
class CameraRanges:
    """Where `sample_camera` draws from (see the module docstring)."""

    frames: tuple[tuple[int, int], ...] = ((1920, 1080), (1280, 720), (1080, 1920), (720, 1280), (1000, 1000))
    frame_weights: tuple[float, ...] = (0.35, 0.15, 0.25, 0.1, 0.15)
    focal_35mm: tuple[float, float] = (13.0, 135.0)
    distance_m: tuple[float, float] = (2.0, 15.0)
    elevation_deg: tuple[float, float] = (-10.0, 45.0)
    roll_std_deg: float = 5.0
    roll_max_deg: float = 15.0
    body_height_m: float = 1.9  # what must fit in `fill` of the frame's height
    fill: float = 0.9


def sample_camera(rng: np.random.Generator, target: np.ndarray, ranges: CameraRanges = CameraRanges()
                  ) -> PinholeCamera:
    """A random camera filming a person whose pelvis is at `target` (world metres)."""
    k = rng.choice(len(ranges.frames), p=np.asarray(ranges.frame_weights) / sum(ranges.frame_weights))
    w, h = ranges.frames[k]
    f35 = math.exp(rng.uniform(*np.log(ranges.focal_35mm)))
    f = focal_from_35mm(f35, w, h)
    d = math.exp(rng.uniform(*np.log(ranges.distance_m)))
    d_fit = f * ranges.body_height_m / (ranges.fill * h)  # nearest distance at which the body fits
    d = max(d, d_fit)
    if d > ranges.distance_m[1]:
        d = ranges.distance_m[1]
        f = ranges.fill * h * d / ranges.body_height_m
    roll = float(np.clip(rng.normal(0.0, ranges.roll_std_deg), -ranges.roll_max_deg, ranges.roll_max_deg))
    # the body's half extent on the image (about 1 m above and below the pelvis, 0.6 m across)
    half_h = min(h / 2.0, f * 1.0 / d)
    half_w = min(w / 2.0, f * 0.6 / d)
    pixel = (rng.uniform(half_w, w - half_w), rng.uniform(half_h, h - half_h))
    return camera_around(target, res=(w, h), f=f, distance=d, elevation_deg=rng.uniform(*ranges.elevation_deg),
                         azimuth_deg=rng.uniform(0.0, 360.0), roll_deg=roll, pixel=pixel)


@dataclass(frozen=True)
class CameraSpec:
    """A named viewpoint of the camera-invariance evaluation."""

    name: str
    description: str
    res: tuple[int, int]
    focal_35mm: float
    distance_m: float
    elevation_deg: float
    roll_deg: float = 0.0
    at: tuple[float, float] = (0.5, 0.5)  # where the pelvis is seen, as fractions of width and height


# The camera-invariance set. Each films the sequence's mean pelvis position; the azimuth turns by
# 90 degrees from one test sequence to the next (`eval_camera`), so every camera sees the people
# from the front, the sides and the back over the test set.
EVAL_CAMERAS: tuple[CameraSpec, ...] = (
    CameraSpec("h36m-like", "1000x1000, 1145 px focal (Human3.6M's lens), 5.5 m, 10 deg above",
               (1000, 1000), 35.0, 5.5, 10.0),
    CameraSpec("phone-4m", "1920x1080 landscape, 26 mm-equivalent phone lens, 4 m, level",
               (1920, 1080), 26.0, 4.0, 5.0),
    CameraSpec("telephoto-14m", "1920x1080, 120 mm-equivalent lens, 14 m: a far person, flat perspective",
               (1920, 1080), 120.0, 14.0, 3.0),
    CameraSpec("left-edge", "1920x1080, 16 mm-equivalent ultra-wide, 3 m, person at 12 % of the width",
               (1920, 1080), 16.0, 3.0, 5.0, at=(0.12, 0.5)),
    CameraSpec("portrait", "1080x1920 portrait, 26 mm-equivalent, 3.5 m", (1080, 1920), 26.0, 3.5, 5.0),
    CameraSpec("high-35", "1920x1080, 26 mm-equivalent, 5 m, 35 deg above looking down",
               (1920, 1080), 26.0, 5.0, 35.0),
    CameraSpec("floor", "1920x1080, 26 mm-equivalent, 4 m, on the floor (0.1 m) looking up",
               (1920, 1080), 26.0, 4.0, -12.0),
    CameraSpec("rolled-corner", "1280x720, 20 mm-equivalent, 3.5 m, rolled 12 deg, person at (78 %, 62 %)",
               (1280, 720), 20.0, 3.5, 8.0, roll_deg=12.0, at=(0.78, 0.62)),
)


def eval_camera(spec: CameraSpec, target: np.ndarray, sequence_index: int) -> PinholeCamera:
    """The camera of `spec` for the `sequence_index`-th test sequence, whose mean pelvis is at
    `target` (azimuth 90 degrees * index + 30)."""
    w, h = spec.res
    f = focal_from_35mm(spec.focal_35mm, w, h)
    return camera_around(target, res=spec.res, f=f, distance=spec.distance_m, elevation_deg=spec.elevation_deg,
                         azimuth_deg=90.0 * sequence_index + 30.0, roll_deg=spec.roll_deg,
                         pixel=(spec.at[0] * w, spec.at[1] * h))


def eval_camera_names() -> list[str]:
    return [s.name for s in EVAL_CAMERAS]
