"""Root trajectory, world frame and foot contact (posemoe.trajectory) on motion with known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import synthetic_motion
from posemoe.errors import PoseMoEError
from posemoe.trajectory import ANKLE_HEIGHT, WorldFrame, estimate_world, foot_contact, root_in_camera
from posemoe.virtual_camera import look_at

FOCAL, SIZE = 1100.0, (1280, 720)
PRINCIPAL = (SIZE[0] / 2, SIZE[1] / 2)


def _filmed(height: float = 2.2, distance: float = 5.0, n: int = 120, seed: int = 3):
    """A walking figure (world z up, feet on the floor) filmed from ``height`` metres, looking down at it."""
    world = synthetic_motion(n, seed)  # (n, 17, 3) metres, z up
    world[..., 2] -= world[..., [3, 6], 2].min() - ANKLE_HEIGHT  # lower ankle at the usual height above the floor
    centre = np.array([0.3, -distance, height])
    rot = look_at(centre, np.array([0.0, 0.0, 0.9]))
    cam = (world - centre) @ rot.T  # camera axes: x right, y down, z forward
    pix = FOCAL * cam[..., :2] / cam[..., 2:3] + np.array(PRINCIPAL)
    return world, cam, pix, rot, centre


def test_root_is_recovered_exactly_from_exact_2d_and_3d() -> None:
    _, cam, pix, _, _ = _filmed()
    rel = cam - cam[:, :1]
    root = root_in_camera(pix, None, rel, FOCAL, PRINCIPAL)
    assert np.abs(root - cam[:, 0]).max() < 1e-6


def test_root_ignores_missed_joints_and_absent_frames() -> None:
    _, cam, pix, _, _ = _filmed()
    rel = cam - cam[:, :1]
    scores = np.ones(pix.shape[:-1])
    scores[:, [13, 16]] = 0.0  # wrists missed ...
    pix = pix.copy()
    pix[:, [13, 16]] += 300.0  # ... and far off: they must not count
    pix[5] = np.nan  # an absent frame
    root = root_in_camera(pix, scores, rel, FOCAL, PRINCIPAL)
    assert np.isnan(root[5]).all()
    ok = np.arange(len(root)) != 5
    assert np.abs(root[ok] - cam[ok, 0]).max() < 1e-6


def test_depth_scales_with_the_focal_length() -> None:
    _, cam, pix, _, _ = _filmed()
    rel = cam - cam[:, :1]
    near = root_in_camera(pix, None, rel, FOCAL, PRINCIPAL)
    far = root_in_camera(pix, None, rel, 2 * FOCAL, PRINCIPAL)
    ratio = far[:, 2] / near[:, 2]  # not exactly 2: the pose's own depth does not scale with it
    assert abs(float(np.median(ratio)) - 2.0) < 0.02 and np.abs(ratio - 2.0).max() < 0.05


def test_world_frame_finds_up_floor_and_camera_height() -> None:
    world, cam, pix, rot, centre = _filmed(height=2.2)
    rel = cam - cam[:, :1]
    frame = estimate_world(rel[None], cam[None, :, 0])
    true_up = rot @ np.array([0.0, 0.0, 1.0])  # world up in camera axes
    angle = math.degrees(math.acos(np.clip(frame.up_camera @ true_up, -1, 1)))
    assert angle < 2.0
    assert abs(frame.camera_height - centre[2]) < 0.08
    assert frame.pitch_deg > 5.0  # the camera looks down at the walker
    placed = frame.to_world(cam)
    heights = placed[..., 1]
    np.testing.assert_allclose(heights, world[..., 2], atol=0.1)  # world z up == our y up
    np.testing.assert_allclose(WorldFrame.from_matrix(frame.matrix()).matrix(), frame.matrix())


def test_world_frame_of_a_level_camera_without_people() -> None:
    empty = np.full((1, 4, 17, 3), np.nan)
    frame = estimate_world(empty, np.full((1, 4, 3), np.nan))
    assert frame.camera_height == 1.5 and abs(frame.pitch_deg) < 1e-9


def test_foot_contact_standing_and_swinging() -> None:
    fps, n = 25.0, 50
    k = np.zeros((n, 17, 3))
    k[:, :, 1] = 0.9  # everything at hip height ...
    k[:, 3] = [0.1, ANKLE_HEIGHT, 0.0]  # ... the right ankle planted on the floor
    t = np.arange(n) / fps
    k[:, 6, 0] = -0.1
    k[:, 6, 1] = ANKLE_HEIGHT + 0.15 * (1 + np.sin(2 * np.pi * t))  # the left foot in the air, moving
    k[:, 6, 2] = 0.8 * t  # and walking forward at 0.8 m/s
    contact = foot_contact(k, fps)
    assert contact.shape == (n, 2)
    assert contact[:, 0].all()
    assert not contact[:, 1].any()
    slow_low = k.copy()
    slow_low[:, 6, 1] = ANKLE_HEIGHT  # low, but still sliding at 0.8 m/s: not a contact
    assert not foot_contact(slow_low, fps)[:, 1].any()


def test_bad_arguments() -> None:
    with pytest.raises(PoseMoEError, match="focal length"):
        root_in_camera(np.zeros((2, 17, 2)), None, np.zeros((2, 17, 3)), 0.0, (0, 0))
    with pytest.raises(PoseMoEError, match="expected 2D"):
        root_in_camera(np.zeros((2, 17, 2)), None, np.zeros((3, 17, 3)), 100.0, (0, 0))
    with pytest.raises(PoseMoEError, match="frame rate"):
        foot_contact(np.zeros((4, 17, 3)), 0.0)
