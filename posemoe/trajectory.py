"""Where each person is: the root's path through the scene, a gravity-aligned world frame, foot contact.

The lifting network gives root-relative 3D (the pelvis at 0, camera axes, metres). Together with
the 2D keypoints and the camera's focal length this fixes where the person stands.

Root in the camera frame (``root_in_camera``)
    Per frame, the translation ``t`` that puts the root-relative 3D pose ``P`` where its
    projection best matches the 2D keypoints: a pinhole camera maps ``P_j + t`` to pixels
    ``f (P_j + t)_xy / (P_j + t)_z + c``; multiplied out, each joint gives two equations that are
    linear in ``t`` (``t_x - x_j t_z = x_j P_jz - P_jx`` with ``x_j = (u_j - c_x) / f``, and the
    same for y), solved by weighted least squares over the joints (weights: the 2D confidences).
    The depth comes from the pose's size: the 3D pose's metres against its 2D extent in pixels.
    The network's poses have the body proportions of Human3.6M's adult actors (about 1.7 m tall),
    so a child or a very tall person is placed proportionally too far or too near; a wrong focal
    length scales every depth by the same factor (twice the focal length, twice the distance).

World frame (``estimate_world``)
    Axes: ``x`` the camera's right made horizontal, ``y`` up (against gravity), ``z`` horizontal
    towards the camera; right-handed, metres, origin on the floor directly below the camera (so
    the camera sits at ``(0, camera_height, 0)`` and looks along ``-z``, tilted by its pitch).
    ``world = rotation @ camera + translation``. Up is estimated from the poses (per pose the
    direction from the ankles' midpoint to the thorax/head midpoint, averaged, then re-averaged
    over the poses within 30 degrees of that mean, so crouching or lying frames do not tilt it);
    when the feet travel over the floor (at least 25 cm standard deviation along a direction),
    the floor's slope along that direction is measured from the lower ankle of every pose and up
    refined to match, which a person's lean does not bias (on the synthetic walk, a straight walk
    towards the camera: 2.7 degrees off instead of 7).
    The floor is the plane at the median height of the lower ankle over all people and frames,
    minus ``ANKLE_HEIGHT`` (the median height of the lower ankle joint above the floor in
    Human3.6M's motion capture, 5.9 cm): right when people stand or walk most of the time.

Foot contact (``foot_contact``)
    A foot (its ankle joint) touches the floor in a frame when it is within ``CONTACT_HEIGHT``
    of the ankle's standing height and moves slower than ``CONTACT_SPEED`` over the floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17

__all__ = [
    "ANKLE_HEIGHT",
    "CONTACT_HEIGHT",
    "CONTACT_SPEED",
    "WorldFrame",
    "estimate_up",
    "estimate_world",
    "foot_contact",
    "root_in_camera",
    "rotation_from_up",
]

_J = len(H36M17.joint_names)
_R_ANKLE, _L_ANKLE, _THORAX, _HEAD = 3, 6, 8, 10

ANKLE_HEIGHT = 0.059  # m: median height of the lower ankle joint above the floor in Human3.6M
CONTACT_HEIGHT = 0.05  # m above the ankle's standing height
CONTACT_SPEED = 0.5  # m/s over the floor
PLANE_MIN_SPREAD = 0.25  # m: the feet's path must cover this much (std) in every direction for a floor fit
PLANE_MAX_TILT_DEG = 20.0  # the floor's normal may differ this much from the body's up at most


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def estimate_up(keypoints3d: np.ndarray, max_angle_deg: float = 30.0) -> np.ndarray:
    """The up direction (3,) unit vector in the poses' axes, estimated from the poses.

    keypoints3d: (..., 17, 3) H36M17 poses (metres), NaN where absent. Per pose: the unit vector
    from the ankles' midpoint to the midpoint of thorax and head; their mean, then the mean of
    those within ``max_angle_deg`` of it (robust to crouching or lying poses). With no usable
    pose the camera convention's up, (0, -1, 0), is returned.
    """
    k = np.asarray(keypoints3d, dtype=np.float64).reshape(-1, _J, 3)
    v = 0.5 * (k[:, _THORAX] + k[:, _HEAD]) - 0.5 * (k[:, _R_ANKLE] + k[:, _L_ANKLE])
    norm = np.linalg.norm(v, axis=1)
    ok = np.isfinite(norm) & (norm > 1e-6)
    fallback = np.array([0.0, -1.0, 0.0])
    if not ok.any():
        return fallback
    u = v[ok] / norm[ok, None]
    mean = u.mean(axis=0)
    if np.linalg.norm(mean) < 1e-6:
        return fallback
    mean = _unit(mean)
    keep = u @ mean >= math.cos(math.radians(max_angle_deg))
    if keep.sum() >= max(1, 0.2 * len(u)):
        refined = u[keep].mean(axis=0)
        if np.linalg.norm(refined) > 1e-6:
            mean = _unit(refined)
    return mean


def root_in_camera(keypoints2d: np.ndarray, scores2d: np.ndarray | None, keypoints3d: np.ndarray,
                   focal_px: float, principal_px: tuple[float, float] | np.ndarray) -> np.ndarray:
    """(..., 3) root (pelvis) position in the camera frame, metres; NaN where the pose is absent.

    keypoints2d: (..., 17, 2) pixels; scores2d: (..., 17) confidences in [0, 1] (None: all 1);
    keypoints3d: (..., 17, 3) root-relative, camera axes (x right, y down, z forward), metres;
    focal_px: focal length in pixels; principal_px: (c_x, c_y) pixels. A frame needs at least
    two joints with 2D and 3D, and a solution in front of the camera; others give NaN.
    """
    if not (focal_px > 0 and math.isfinite(focal_px)):
        raise PoseMoEError(f"focal length: expected a positive number of pixels, found {focal_px}")
    k2 = np.asarray(keypoints2d, dtype=np.float64)
    k3 = np.asarray(keypoints3d, dtype=np.float64)
    lead = k2.shape[:-2]
    if k2.shape[-2:] != (_J, 2) or k3.shape != (*lead, _J, 3):
        raise PoseMoEError(f"root_in_camera: expected 2D (..., 17, 2) and 3D (..., 17, 3) of the same length, "
                           f"found {k2.shape} and {k3.shape}")
    w = np.ones(k2.shape[:-1]) if scores2d is None else np.asarray(scores2d, dtype=np.float64).reshape(k2.shape[:-1])
    k2, k3, w = k2.reshape(-1, _J, 2), k3.reshape(-1, _J, 3), w.reshape(-1, _J)
    xy = (k2 - np.asarray(principal_px, dtype=np.float64)) / focal_px  # (N, J, 2) normalised image coordinates
    ok = np.isfinite(xy).all(-1) & np.isfinite(k3).all(-1) & np.isfinite(w) & (w > 0)
    w = np.where(ok, w, 0.0)
    xy = np.where(ok[..., None], xy, 0.0)
    p = np.where(ok[..., None], k3, 0.0)
    # rows [1, 0, -x] t = x P_z - P_x and [0, 1, -y] t = y P_z - P_y; normal equations per frame
    n = len(xy)
    a = np.zeros((n, _J, 2, 3))
    a[..., 0, 0] = 1.0
    a[..., 1, 1] = 1.0
    a[..., :, 2] = -xy
    b = xy * p[..., 2:3] - p[..., :2]  # (N, J, 2)
    aw = a * w[..., None, None]
    ata = np.einsum("njkr,njks->nrs", aw, a)
    atb = np.einsum("njkr,njk->nr", aw, b)
    usable = ok.sum(-1) >= 2
    ata[~usable] = np.eye(3)
    with np.errstate(invalid="ignore", divide="ignore"):
        try:
            t = np.linalg.solve(ata, atb[..., None])[..., 0]
        except np.linalg.LinAlgError:  # a degenerate frame among many: solve one by one
            t = np.stack([np.linalg.lstsq(m, v, rcond=None)[0] for m, v in zip(ata, atb)]) if n else np.zeros((0, 3))
    bad = ~usable | ~np.isfinite(t).all(-1) | (t[:, 2] <= 0.05)
    t[bad] = np.nan
    return t.reshape(*lead, 3)


@dataclass(frozen=True)
class WorldFrame:
    """A gravity-aligned world frame: ``world = rotation @ camera + translation`` (metres).

    World axes: x the camera's right made horizontal, y up, z horizontal towards the camera;
    the floor is the plane y = 0 and the origin lies on it, directly below the camera.
    """

    rotation: np.ndarray  # (3, 3) camera -> world
    translation: np.ndarray  # (3,) = (0, camera_height, 0)
    up_camera: np.ndarray  # (3,) the up direction in camera axes

    @property
    def camera_height(self) -> float:
        """Height of the camera above the floor, metres."""
        return float(self.translation[1])

    @property
    def pitch_deg(self) -> float:
        """How far the camera looks down (positive) or up (negative) from the horizontal, degrees."""
        forward_world = self.rotation @ np.array([0.0, 0.0, 1.0])
        return float(-math.degrees(math.asin(np.clip(forward_world[1], -1.0, 1.0))))

    def to_world(self, points_camera: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points -> world frame."""
        return np.asarray(points_camera, dtype=np.float64) @ self.rotation.T + self.translation

    def matrix(self) -> np.ndarray:
        """(3, 4) ``[rotation | translation]``."""
        return np.concatenate([self.rotation, self.translation[:, None]], axis=1)

    @classmethod
    def from_matrix(cls, m: np.ndarray) -> "WorldFrame":
        m = np.asarray(m, dtype=np.float64)
        if m.shape != (3, 4) or not np.isfinite(m).all():
            raise PoseMoEError(f"world_from_camera: expected a finite (3, 4) matrix, found shape {m.shape}")
        return cls(m[:, :3].copy(), m[:, 3].copy(), m[1, :3].copy())


def rotation_from_up(up: np.ndarray) -> np.ndarray:
    """(3, 3) rows: world x, y, z in camera axes, for the camera-axes up direction ``up``."""
    y = _unit(np.asarray(up, dtype=np.float64))
    fwd = np.array([0.0, 0.0, 1.0])
    if abs(fwd @ y) > 0.95:  # looking almost straight up or down: take the camera's x as the right
        x = _unit(np.array([1.0, 0.0, 0.0]) - y[0] * y)
        z = np.cross(x, y)
    else:
        z = -_unit(fwd - (fwd @ y) * y)  # horizontal, towards the camera
        x = np.cross(y, z)
    return np.stack([x, y, z])


def _lower_ankles(absolute: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(N, 3) per present pose, the lower of its two ankles (camera frame), given the up direction."""
    ankles = absolute[..., [_R_ANKLE, _L_ANKLE], :].reshape(-1, 2, 3)
    ankles = ankles[np.isfinite(ankles).all(axis=(1, 2))]
    lower = np.argmax(ankles @ -up, axis=1)  # the larger distance along -up
    return ankles[np.arange(len(ankles)), lower]


def _floor_plane_up(points: np.ndarray, up: np.ndarray) -> np.ndarray | None:
    """Up refined by the slope of the lower-ankle points, or None when they do not travel far enough.

    In the frame of ``up``, the points' horizontal positions are split along their principal
    axes; along each axis on which they spread at least ``PLANE_MIN_SPREAD`` (standard
    deviation), the floor's slope is fitted (height = slope * position + c, least squares, twice,
    the second time without points more than 3 median absolute deviations off); along an axis
    with less spread the body's up stands. A walk along a line thus fixes the tilt along the line
    only. Kept when the result is within ``PLANE_MAX_TILT_DEG`` of ``up``.
    """
    if len(points) < 10:
        return None
    rot = rotation_from_up(up)
    pw = points @ rot.T
    horizontal = pw[:, [0, 2]] - pw[:, [0, 2]].mean(axis=0)
    var, axes = np.linalg.eigh(np.cov(horizontal.T))
    along = horizontal @ axes  # positions along the principal axes
    use = np.sqrt(np.maximum(var, 0.0)) >= PLANE_MIN_SPREAD
    if not use.any():
        return None
    design = np.c_[along[:, use], np.ones(len(pw))]
    keep = np.ones(len(pw), dtype=bool)
    for _ in range(2):
        coef = np.linalg.lstsq(design[keep], pw[keep, 1], rcond=None)[0]
        resid = np.abs(design @ coef - pw[:, 1])
        keep = resid <= 3.0 * max(float(np.median(resid[keep])), 1e-3)
    slopes = np.zeros(2)
    slopes[use] = coef[:-1]
    gradient = axes @ slopes  # d height / d (x, z)
    normal = rot.T @ _unit(np.array([-gradient[0], 1.0, -gradient[1]]))
    if normal @ up < math.cos(math.radians(PLANE_MAX_TILT_DEG)):
        return None
    return normal


def estimate_world(keypoints3d: np.ndarray, root_camera: np.ndarray) -> WorldFrame:
    """The world frame of a clip from everyone's poses (see the module docstring).

    keypoints3d: (P, F, 17, 3) root-relative poses, camera axes, metres; root_camera: (P, F, 3)
    root positions in the camera frame (``root_in_camera``). NaN where absent. With no usable
    frame, the camera is taken as level at 1.5 m.
    """
    k3 = np.asarray(keypoints3d, dtype=np.float64)
    root = np.asarray(root_camera, dtype=np.float64)
    absolute = k3 + root[..., None, :]
    up = estimate_up(k3)
    plane_up = _floor_plane_up(_lower_ankles(absolute, up), up)
    if plane_up is not None:
        up = plane_up
    rot = rotation_from_up(up)
    lower = _lower_ankles(absolute, up) @ rot[1]  # heights relative to the camera
    camera_height = float(ANKLE_HEIGHT - np.median(lower)) if lower.size else 1.5
    return WorldFrame(rot, np.array([0.0, camera_height, 0.0]), up)


def foot_contact(keypoints_world: np.ndarray, fps: float, height: float = CONTACT_HEIGHT,
                 speed: float = CONTACT_SPEED) -> np.ndarray:
    """(..., F, 2) bool: the right / left ankle touches the floor (H36M17 joints 3 and 6).

    keypoints_world: (..., F, 17, 3) world-frame joints (y up, floor at 0), NaN where absent;
    fps: frames per second. Contact: the ankle is at most ``height`` above ``ANKLE_HEIGHT`` and its
    speed over the floor (x, z; central differences) is at most ``speed`` m/s. Absent: False.
    """
    k = np.asarray(keypoints_world, dtype=np.float64)
    if k.ndim < 3 or k.shape[-2:] != (_J, 3):
        raise PoseMoEError(f"foot_contact: expected (..., F, 17, 3) world joints, found {k.shape}")
    if not (fps > 0 and math.isfinite(fps)):
        raise PoseMoEError(f"foot_contact: expected a positive frame rate, found {fps}")
    ankles = k[..., [_R_ANKLE, _L_ANKLE], :]  # (..., F, 2, 3)
    low = ankles[..., 1] <= ANKLE_HEIGHT + height
    ground = ankles[..., [0, 2]]
    if ground.shape[-3] >= 2:
        vel = np.gradient(ground, axis=-3) * fps  # NaN next to absent frames
    else:
        vel = np.zeros_like(ground)
    slow = np.linalg.norm(vel, axis=-1) <= speed
    return low & slow
