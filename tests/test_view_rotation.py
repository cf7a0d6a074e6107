"""Turning the camera to look at the person: exact geometry, and the lifting paths that use it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posemoe.camera import normalize_screen
from posemoe.errors import PoseMoEError
from posemoe.view_rotation import (default_focal_px, focal_from_fov, look_at_person, rotation_to_axis, screen_focal,
                                   turn_back)
from posemoe.virtual_camera import EVAL_CAMERAS, eval_camera


def _walk(n: int = 12) -> np.ndarray:
    """A person-like cloud of 17 joints moving through the world (metres, z up)."""
    rng = np.random.default_rng(0)
    body = rng.normal(0.0, 0.25, (17, 3)) + [0.0, 0.0, 1.0]
    body[0] = [0.0, 0.0, 1.0]
    return body[None] + np.linspace(0, 1, n)[:, None, None] * np.array([0.8, 0.3, 0.0])


def test_rotation_takes_each_ray_onto_the_axis() -> None:
    rays = np.array([[0.0, 0.0, 1.0], [0.3, -0.2, 1.0], [-1.5, 0.4, 1.0], [2.0, 2.0, 1.0]])
    R = rotation_to_axis(rays)
    for r, ray in zip(R, rays):
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
        turned = r @ (ray / np.linalg.norm(ray))
        np.testing.assert_allclose(turned, [0.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(R[0], np.eye(3))
    # the smallest such rotation: its axis is perpendicular to both the ray and the optical axis
    angle = math.degrees(math.acos((np.trace(R[2]) - 1) / 2))
    assert angle == pytest.approx(math.degrees(math.atan2(math.hypot(1.5, 0.4), 1.0)), abs=1e-6)


@pytest.mark.parametrize("spec", EVAL_CAMERAS, ids=lambda s: s.name)
def test_turned_keypoints_are_the_projection_through_the_turned_camera(spec) -> None:
    world = _walk()
    cam = eval_camera(spec, world[:, 0].mean(axis=0), 1)
    pose_cam = cam.world_to_camera(world)
    x = normalize_screen(cam.project(pose_cam), cam.res_w, cam.res_h).astype(np.float32)
    f = screen_focal(cam.f, cam.res_w)
    principal = tuple(normalize_screen(np.asarray(cam.c), cam.res_w, cam.res_h))
    turned, R = look_at_person(x, f, principal, smooth=1)
    # what a camera at the same place, turned by R, sees (principal point at the image centre)
    in_turned = np.einsum("tab,tjb->tja", R.astype(np.float64), pose_cam)
    np.testing.assert_allclose(turned[..., :2], f * in_turned[..., :2] / in_turned[..., 2:], atol=2e-5)
    # the body centre (mean of pelvis and hips) is on the turned camera's axis
    centre = turned[:, [0, 1, 4], :2].mean(axis=1)
    np.testing.assert_allclose(centre, 0.0, atol=1e-2)  # the ray through the 2D centre; perspective moves the mean a little
    # and turning back recovers the real camera's root-relative pose
    rel = pose_cam - pose_cam[:, :1]
    np.testing.assert_allclose(turn_back(np.einsum("tab,tjb->tja", R.astype(np.float64), rel), R), rel, atol=1e-6)


def test_far_off_axis_views_are_turned_by_their_angle() -> None:
    world = _walk(3)
    left = next(s for s in EVAL_CAMERAS if s.name == "left-edge")
    cam = eval_camera(left, world[:, 0].mean(axis=0), 0)
    x = normalize_screen(cam.project(cam.world_to_camera(world)), cam.res_w, cam.res_h).astype(np.float32)
    _, R = look_at_person(x, screen_focal(cam.f, cam.res_w))
    angle = math.degrees(math.acos((np.trace(R[1]) - 1) / 2))
    assert 35.0 < angle < 50.0  # 12 % of the width of a 16 mm-equivalent frame: about 42 degrees


def test_missed_joints_stay_zero_and_channels_are_kept() -> None:
    x = np.zeros((2, 17, 3), np.float32)
    x[..., :2] = np.random.default_rng(1).normal(0.5, 0.1, (2, 17, 2))
    x[..., 2] = 1.0
    x[0, 5] = 0.0  # a missed joint: every channel 0
    out, _ = look_at_person(x, 1.2)
    assert (out[0, 5] == 0).all() and (out[..., 2] == x[..., 2]).all() and (out[1, 5, :2] != 0).all()


def test_focal_helpers_and_bad_values() -> None:
    assert default_focal_px(1920, 1080) == pytest.approx(26.0 * math.hypot(1920, 1080) / 43.27)
    assert focal_from_fov(90.0, 1000) == pytest.approx(500.0)
    assert screen_focal(960.0, 1920) == pytest.approx(1.0)
    for bad in (0.0, 180.0, -5.0):
        with pytest.raises(PoseMoEError, match="field of view"):
            focal_from_fov(bad, 1000)
    with pytest.raises(PoseMoEError, match="focal length"):
        screen_focal(-1.0, 1920)
    with pytest.raises(PoseMoEError, match="positive focal"):
        look_at_person(np.zeros((1, 17, 2), np.float32), float("nan"))


def test_the_turn_follows_the_person_smoothly() -> None:
    """A detector's jitter on the body centre would turn each frame by a different angle: the
    centre is averaged over a few frames first, so the turn varies less than the raw centre."""
    rng = np.random.default_rng(3)
    n = 40
    x = np.zeros((n, 17, 3), np.float32)
    x[..., :2] = rng.normal(0.0, 0.05, (17, 2)) + np.array([0.6, 0.1])  # a person right of centre
    x[..., :2] += rng.normal(0.0, 0.01, (n, 1, 2))  # the whole detection jitters from frame to frame
    x[..., 2] = 1.0
    x[10:13] = 0.0  # missed for three frames
    _, raw = look_at_person(x, 1.0, smooth=1)
    _, smooth = look_at_person(x, 1.0)

    def wobble(R):
        z = R[:, 2, :]  # the turned camera's optical axis, in the real camera's axes
        ok = np.ones(n, bool)
        ok[9:14] = False
        return np.linalg.norm(np.diff(z[ok], axis=0), axis=-1).mean()

    assert wobble(smooth) < 0.5 * wobble(raw)
    np.testing.assert_allclose(smooth[11], np.eye(3), atol=1e-6)  # nobody there: no turn
