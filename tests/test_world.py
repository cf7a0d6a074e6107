"""Placing results in the scene (pipeline.world.place_in_world): smoothing, bone lengths, trajectory."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.world import place_in_world
from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17
from posemoe.smoothing import parse_smoothing
from test_motion_export import FOCAL, _results


def _bone_lengths(k: np.ndarray) -> np.ndarray:
    child = [j for j, p in enumerate(H36M17.parents) if p >= 0]
    parent = [H36M17.parents[j] for j in child]
    return np.linalg.norm(k[..., child, :] - k[..., parent, :], axis=-1)


def test_median_bones_fix_every_bone_and_free_keeps_the_network_s() -> None:
    raw = _results(people=1)
    rng = np.random.default_rng(0)
    raw.keypoints3d[:] += rng.normal(0, 0.01, raw.keypoints3d.shape).astype(np.float32)  # lengths now vary
    fixed = place_in_world(raw, FOCAL, parse_smoothing("none"), "median")
    free = place_in_world(raw, FOCAL, parse_smoothing("none"), "free")
    assert _bone_lengths(fixed.keypoints3d[0]).std(axis=0).max() < 1e-5
    assert _bone_lengths(free.keypoints3d[0]).std(axis=0).max() > 1e-3
    np.testing.assert_array_equal(free.keypoints3d, raw.keypoints3d)
    assert fixed.extra["bones"] == "median" and free.extra["bones"] == "free"
    with pytest.raises(PoseMoEError, match="--bones 'rigid'"):
        place_in_world(raw, FOCAL, None, "rigid")


def test_smoothing_is_recorded_applied_once_and_gaps_stay_empty() -> None:
    raw = _results(people=2)
    rng = np.random.default_rng(1)
    raw.keypoints3d[:] += rng.normal(0, 0.01, raw.keypoints3d.shape).astype(np.float32)
    smooth = place_in_world(raw, FOCAL, parse_smoothing("butter:4,2"), "free")
    assert smooth.smoothing["spec"] == "butter:4,2"
    jitter = lambda k: np.nanmean(np.abs(np.diff(k, 2, axis=1)))  # noqa: E731
    assert jitter(smooth.keypoints3d) < 0.5 * jitter(raw.keypoints3d)
    again = place_in_world(smooth, None, None)  # nothing new asked: the 3D is not filtered twice
    np.testing.assert_array_equal(again.keypoints3d, smooth.keypoints3d)
    assert again.focal_px == FOCAL and again.smoothing == smooth.smoothing
    absent = ~raw.present[1]
    assert absent.any() and np.isnan(smooth.keypoints3d_world[1, absent]).all()
    assert not smooth.foot_contact[1, absent].any()


def test_the_root_is_placed_where_the_camera_saw_it() -> None:
    raw = _results(people=2, absent=False)
    placed = place_in_world(raw, FOCAL, parse_smoothing("none"), "free")
    # exact 2D of exact 3D: the placed joints project back onto the 2D keypoints
    absolute = placed.keypoints3d.astype(np.float64) + placed.root_camera[..., None, :]
    pix = FOCAL * absolute[..., :2] / absolute[..., 2:3] + np.array(placed.principal_px)
    assert np.abs(pix - raw.keypoints2d).max() < 0.05
    assert (placed.root_camera[..., 2] > 4.0).all() and (placed.root_camera[..., 2] < 8.5).all()
    floor = placed.keypoints3d_world[..., [3, 6], 1].min(axis=-1)
    assert abs(float(np.median(floor)) - 0.06) < 0.02  # the lower ankle at its usual height above the floor
    assert placed.world_from_camera[1, 3] == pytest.approx(1.6, abs=0.1)  # the camera's height
