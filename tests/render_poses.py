"""Poses for the rendering tests (tests/test_render_*.py): an upright person walking in place,
its pinhole 2D keypoints, and checks on drawn images."""

from __future__ import annotations

import math

import numpy as np

from posemoe.skeleton import H36M17

W, H = 1280, 720
FOCAL = 1000.0

# bone offsets (metres) child <- parent of an upright person facing the camera, camera axes
# (x right, y down, z forward)
BONES = {
    1: (-0.12, 0.0, 0.0), 2: (0.0, 0.45, 0.0), 3: (0.0, 0.43, 0.0),
    4: (0.12, 0.0, 0.0), 5: (0.0, 0.45, 0.0), 6: (0.0, 0.43, 0.0),
    7: (0.0, -0.22, 0.0), 8: (0.0, -0.26, 0.0), 9: (0.0, -0.10, -0.04), 10: (0.0, -0.12, 0.0),
    11: (0.16, 0.03, 0.0), 12: (0.0, 0.27, 0.0), 13: (0.0, 0.24, 0.0),
    14: (-0.16, 0.03, 0.0), 15: (0.0, 0.27, 0.0), 16: (0.0, 0.24, 0.0),
}
LEG_SWING = {2: 1.0, 5: -1.0, 12: -0.6, 15: 0.6}  # sign of each limb's swing (about the x axis)


def rot_x(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])


def pose(swing: float = 0.0) -> np.ndarray:
    """(17, 3) root-relative pose; ``swing`` radians of leg/arm swing (walking phase)."""
    out = np.zeros((17, 3))
    for j in range(1, 17):
        parent = H36M17.parents[j]
        off = np.array(BONES[j])
        s = LEG_SWING.get(j, LEG_SWING.get(parent, 0.0)) * swing
        out[j] = out[parent] + rot_x(math.degrees(s)) @ off
    return out


def walking(frames: int, tilt_deg: float = 0.0) -> np.ndarray:
    """(F, 17, 3) walking-in-place poses, seen by a camera pitched by ``tilt_deg``."""
    k3 = np.stack([pose(0.45 * math.sin(2 * math.pi * f / 16)) for f in range(frames)])
    return k3 @ rot_x(tilt_deg).T


def to_2d(k3: np.ndarray, root_x_px: np.ndarray | float, depth: float = 5.0) -> np.ndarray:
    """Pinhole 2D keypoints (F, 17, 2) of root-relative poses with the pelvis at pixel column root_x_px."""
    root_x = (np.broadcast_to(root_x_px, k3.shape[:1]) - W / 2) * depth / FOCAL
    cam = k3 + np.stack([root_x, np.zeros_like(root_x), np.full_like(root_x, depth)], axis=-1)[:, None]
    return FOCAL * cam[..., :2] / cam[..., 2:] + np.array([W / 2, H / 2])


def clip(k3s: list[np.ndarray], roots: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(P, F, 17, 2), (P, F, 17), (P, F, 17, 3), (P,) for people with 3D poses k3s and 2D roots."""
    k3 = np.stack(k3s)
    k2 = np.stack([to_2d(k, r) for k, r in zip(k3s, roots)])
    scores = np.full(k3.shape[:3], 0.9)
    return k2, scores, k3, np.arange(len(k3s))


def coloured_mask(img: np.ndarray, min_sat: int = 60) -> np.ndarray:
    """(H, W) bool: pixels clearly coloured (not white, grey or black)."""
    i = img.astype(np.int16)
    return (i.max(axis=-1) - i.min(axis=-1)) > min_sat


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    c = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))
