"""Turn the camera to look straight at the person before lifting, and the 3D back afterwards.

A person near the edge of a wide-angle frame is seen along a ray far from the optical axis.
Centred, size-normalised input (``input_norm="body"``) no longer says where in the frame the
person stood, so the network lifts every person as if seen straight on, and its 3D is then
turned by the angle between the person's ray and the optical axis (about 40 degrees at the edge
of a 16 mm-equivalent frame). Knowing the focal length, the keypoints can be re-projected into a
virtual camera at the same place whose optical axis goes through the person: a pure rotation of
the camera, exact for a pinhole camera. The network lifts the person in that virtual camera,
where every view looks like the centred views it was trained on, and the rotation is undone on
the 3D.

Per frame: the ray through the body centre (mean of the pelvis and hips, `posemoe.normalization.
body_centre`, averaged over `SMOOTH_FRAMES` frames so that a detector's jitter does not turn
each frame differently) defines the smallest rotation ``R`` that takes it onto the optical axis; joint rays
``K^-1 (u, v, 1)`` are turned by ``R`` and projected again with the same focal length, about the
image centre; the network's pose ``p`` in the virtual camera is ``R^T p`` in the real camera.

Units: everything here is in normalised screen coordinates (`posemoe.camera.normalize_screen`,
``x / w * 2 - 1``), where a focal length of ``f`` pixels is ``2 f / w`` and the image centre is
(0, 0). Missed joints (confidence 0) stay 0.

The focal length of a video is usually unknown. `default_focal_px` assumes a 26 mm-equivalent
lens, the main camera of most phones; a wrong guess turns the 3D by part of the off-axis angle
instead of all of it, and changes nothing for a person at the centre of the frame.
"""

from __future__ import annotations

import math

import numpy as np

from posemoe.errors import PoseMoEError
from posemoe.normalization import body_centre, found_joints
from posemoe.virtual_camera import focal_from_35mm

DEFAULT_FOCAL_35MM = 26.0  # mm, 35 mm-equivalent: the main camera of most phones
SMOOTH_FRAMES = 9  # frames over which the body centre that sets the turn is averaged


def focal_from_fov(fov_deg: float, width: int) -> float:
    """Focal length in pixels of a horizontal field of view of `fov_deg` degrees."""
    if not 1.0 <= fov_deg <= 179.0:
        raise PoseMoEError(f"field of view: expected degrees between 1 and 179, found {fov_deg}")
    return width / 2.0 / math.tan(math.radians(fov_deg) / 2.0)


def default_focal_px(width: int, height: int) -> float:
    """The assumed focal length (pixels) of a video whose lens is unknown: 26 mm-equivalent."""
    return focal_from_35mm(DEFAULT_FOCAL_35MM, width, height)


def screen_focal(focal_px: float, width: int) -> float:
    """A focal length in pixels -> normalised screen units (``2 f / w``)."""
    if not (focal_px > 0 and math.isfinite(focal_px)):
        raise PoseMoEError(f"focal length: expected a positive number of pixels, found {focal_px}")
    return 2.0 * focal_px / width


def uses_view_rotation(model) -> bool:
    """Whether inputs to `model` (a `posemoe.model.PoseMoE` or `posemoe.onnx_model.OnnxPoseMoE`)
    are turned to look at the person: for camera-invariant models (``input_norm="body"``), whose
    input no longer says where in the frame the person is; screen-normalised models see that
    themselves."""
    return model.cfg.input_norm == "body"


def rotation_to_axis(rays: np.ndarray) -> np.ndarray:
    """(..., 3) rays -> (..., 3, 3): the smallest rotation taking each ray's direction onto
    (0, 0, 1) (Rodrigues); the identity for a ray on the axis."""
    d = rays / np.linalg.norm(rays, axis=-1, keepdims=True)
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(d, z)  # axis * sin
    s = np.linalg.norm(v, axis=-1)
    c = d[..., 2]
    k = v / np.maximum(s, 1e-12)[..., None]
    kx = np.zeros(d.shape[:-1] + (3, 3))
    kx[..., 0, 1], kx[..., 0, 2] = -k[..., 2], k[..., 1]
    kx[..., 1, 0], kx[..., 1, 2] = k[..., 2], -k[..., 0]
    kx[..., 2, 0], kx[..., 2, 1] = -k[..., 1], k[..., 0]
    eye = np.broadcast_to(np.eye(3), kx.shape)
    R = eye + s[..., None, None] * kx + (1.0 - c)[..., None, None] * (kx @ kx)
    return np.where((s < 1e-12)[..., None, None], eye, R)


def smooth_centres(centre: np.ndarray, seen: np.ndarray, frames: int) -> np.ndarray:
    """(..., T, 2) body centres averaged over a centred window of `frames` frames along T, using
    only frames where the person was `seen` ((..., T) bool); unseen frames keep their own."""
    if frames <= 1 or centre.ndim < 2 or centre.shape[-2] < 2:
        return centre
    w = seen.astype(np.float64)
    kernel = np.ones(frames)
    from scipy.ndimage import convolve1d

    num = convolve1d(centre * w[..., None], kernel, axis=-2, mode="nearest")
    den = convolve1d(w, kernel, axis=-1, mode="nearest")[..., None]
    return np.where((den > 0) & seen[..., None], num / np.maximum(den, 1e-12), centre)


def look_at_person(x: np.ndarray, focal: float, principal: tuple[float, float] = (0.0, 0.0),
                   smooth: int = SMOOTH_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Re-project (..., T, J, C) screen-normalised keypoints into a virtual camera turned to look
    at the person in each frame.

    focal: the focal length in screen units (`screen_focal`); principal: the principal point in
    screen units (the image centre is (0, 0)); smooth: the body centre that sets each frame's
    turn is averaged over this many frames around it (a detector's jitter on the centre would
    otherwise turn every frame by a slightly different angle; 1 = no averaging). Returns the new
    keypoints (same shape, centred on the image centre, channels after x, y kept, missed joints
    0) and the rotations (..., T, 3, 3) from the real camera's axes to the virtual camera's."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or x.shape[-1] < 2:
        raise PoseMoEError(f"look_at_person input: expected shape (..., joints, 2 or 3), found {x.shape}")
    if not (focal > 0 and math.isfinite(focal)):
        raise PoseMoEError(f"look_at_person: expected a positive focal length, found {focal}")
    cx, cy = principal
    centre = body_centre(x).astype(np.float64)  # (..., 2)
    found = found_joints(x) > 0
    if x.ndim >= 3:
        centre = smooth_centres(centre, found.any(axis=-1), int(smooth))
    rays_c = np.concatenate([(centre - (cx, cy)) / focal, np.ones(centre.shape[:-1] + (1,))], axis=-1)
    R = rotation_to_axis(rays_c)  # (..., 3, 3)
    xy = x[..., :2].astype(np.float64)
    rays = np.concatenate([(xy - (cx, cy)) / focal, np.ones(xy.shape[:-1] + (1,))], axis=-1)  # (..., J, 3)
    turned = np.einsum("...ab,...jb->...ja", R, rays)
    depth = np.maximum(turned[..., 2:], 1e-6)  # a joint behind the virtual camera cannot be seen
    out = x.copy()
    out[..., :2] = (focal * turned[..., :2] / depth).astype(np.float32)
    out[..., :2] *= found[..., None]
    return out, R.astype(np.float32)


def turn_back(pose: np.ndarray, R: np.ndarray) -> np.ndarray:
    """(..., J, 3) poses in the virtual cameras of `look_at_person` -> the real camera's axes
    (``R^T p`` for every joint)."""
    return np.einsum("...ba,...jb->...ja", np.asarray(R, dtype=np.float64), np.asarray(pose, dtype=np.float64))
