"""Virtual cameras: geometry, the random ranges, and the named evaluation set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posemoe.virtual_camera import (EVAL_CAMERAS, CameraRanges, camera_around, eval_camera, focal_from_35mm,
                                    look_at, sample_camera)


def test_look_at_puts_the_target_on_the_optical_axis_with_the_floor_down() -> None:
    center, target = np.array([4.0, -3.0, 2.5]), np.array([0.0, 0.5, 1.0])
    R = look_at(center, target)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    t = R @ (target - center)
    np.testing.assert_allclose(t[:2], 0.0, atol=1e-12)
    assert t[2] > 0
    # a point above the target appears higher in the image (smaller y)
    above = R @ (target + [0, 0, 0.5] - center)
    assert above[1] / above[2] < 0
    # roll turns the image about the optical axis
    Rr = look_at(center, target, roll_deg=90.0)
    above_r = Rr @ (target + [0, 0, 0.5] - center)
    assert abs(above_r[1] / above_r[2]) < 1e-9 and abs(above_r[0] / above_r[2]) > 0.01


def test_camera_around_places_the_target_at_the_requested_pixel() -> None:
    target = np.array([0.3, -0.2, 0.9])
    cam = camera_around(target, res=(1920, 1080), f=1500.0, distance=5.0, elevation_deg=30.0, azimuth_deg=120.0,
                        roll_deg=8.0, pixel=(200.0, 900.0))
    px = cam.project(cam.world_to_camera(target))
    np.testing.assert_allclose(px, [200.0, 900.0], atol=1e-6)
    assert np.linalg.norm(cam.center - target) == pytest.approx(5.0)
    assert math.degrees(math.asin((cam.center[2] - target[2]) / 5.0)) == pytest.approx(30.0)


def test_random_cameras_cover_the_ranges_and_keep_the_person_in_frame() -> None:
    rng = np.random.default_rng(0)
    target = np.array([0.0, 0.0, 0.95])
    r = CameraRanges()
    sizes, dist, heights, focal35 = set(), [], [], []
    for _ in range(400):
        cam = sample_camera(rng, target, r)
        w, h = cam.res_w, cam.res_h
        sizes.add((w, h))
        px = cam.project(cam.world_to_camera(target))
        assert 0 <= px[0] <= w and 0 <= px[1] <= h
        d = np.linalg.norm(cam.center - target)
        dist.append(d)
        heights.append(cam.center[2])
        focal35.append(cam.f * 43.27 / math.hypot(w, h))
        # a 1.9 m body fits in the frame's height
        assert cam.f * 1.9 / d <= h * 0.9 + 1e-6
    assert sizes == set(r.frames)
    assert min(dist) >= 2.0 - 1e-9 and max(dist) <= 15.0 + 1e-9 and max(dist) > 10.0 and min(dist) < 3.0
    assert min(heights) >= 0.1 - 1e-9 and max(heights) > target[2] + 5.0  # from the floor to well above
    assert min(focal35) < 16.0 and max(focal35) > 80.0  # ultra-wide to telephoto


def test_eval_cameras_are_fixed_and_see_the_pelvis_where_documented() -> None:
    target = np.array([0.5, 0.2, 0.9])
    names = [s.name for s in EVAL_CAMERAS]
    assert len(set(names)) == len(names) >= 6
    for spec in EVAL_CAMERAS:
        a, b = eval_camera(spec, target, 0), eval_camera(spec, target, 0)
        np.testing.assert_array_equal(a.R, b.R)
        w, h = spec.res
        px = a.project(a.world_to_camera(target))
        np.testing.assert_allclose(px, [spec.at[0] * w, spec.at[1] * h], atol=1e-6)
        assert a.f == pytest.approx(focal_from_35mm(spec.focal_35mm, w, h))
        # the next sequence is seen from 90 degrees further round
        c = eval_camera(spec, target, 1)
        v0, v1 = (a.center - target)[:2], (c.center - target)[:2]
        assert abs(np.dot(v0, v1)) < 1e-6 * np.linalg.norm(v0) * np.linalg.norm(v1) + 1e-9
