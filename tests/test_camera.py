"""Tests for posemoe.camera: transforms, projection, screen normalisation, calibration loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from posemoe.camera import (
    H36M_CAMERA_IDS,
    Camera,
    camera_to_world,
    denormalize_screen,
    load_h36m_cameras,
    normalize_screen,
    project_to_pixels,
    world_to_camera,
)
from posemoe.errors import PoseMoEError

SHARED_CAMERAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "h36m" / "cameras.json"


def _rotation(a: float, b: float, c: float) -> np.ndarray:
    """A proper rotation from three angles (z, y, x)."""
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return rz @ ry @ rx


def make_camera(k=(0.0, 0.0, 0.0), p=(0.0, 0.0), cam_id: str = "cam0") -> Camera:
    return Camera(
        id=cam_id,
        R=_rotation(0.3, -0.2, 1.4),
        center=np.array([1.5, -4.0, 1.6]),
        f=np.array([1100.0, 1120.0]),
        c=np.array([510.0, 495.0]),
        k=np.array(k, dtype=float),
        p=np.array(p, dtype=float),
        res_w=1000,
        res_h=1002,
    )


def _camera_json(cam: Camera) -> dict:
    return cam.to_dict()


def test_world_camera_round_trip() -> None:
    cam = make_camera()
    X = np.random.default_rng(1).normal(size=(4, 17, 3))
    Xc = world_to_camera(X, cam)
    assert Xc.shape == X.shape
    np.testing.assert_allclose(camera_to_world(Xc, cam), X, atol=1e-12)
    # the camera centre maps to the origin and distances are preserved
    np.testing.assert_allclose(world_to_camera(cam.center, cam), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(Xc[0, 1] - Xc[0, 2]), np.linalg.norm(X[0, 1] - X[0, 2]))
    with pytest.raises(PoseMoEError, match=r"\(4, 2\)"):
        world_to_camera(np.zeros((4, 2)), cam)


def test_optical_axis_projects_to_principal_point() -> None:
    cam = make_camera(k=(-0.2, 0.25, -0.003), p=(-0.001, 0.002))
    px = project_to_pixels(np.array([[0.0, 0.0, 3.0], [0.0, 0.0, 7.5]]), cam)
    np.testing.assert_allclose(px, np.stack([cam.c, cam.c]), atol=1e-9)


def test_zero_distortion_is_pinhole() -> None:
    cam = make_camera()
    X = np.array([[0.4, -0.3, 4.0], [-1.0, 0.5, 2.0]])
    expected = cam.f * X[:, :2] / X[:, 2:] + cam.c
    np.testing.assert_allclose(project_to_pixels(X, cam), expected, rtol=1e-12)


def test_distorted_point_by_hand() -> None:
    cam = make_camera(k=(0.1, 0.01, 0.001), p=(0.02, 0.03))
    # x = (0.5, 0.25): r2 = 0.3125; radial = 1 + 0.1 r2 + 0.01 r2^2 + 0.001 r2^3
    # tangential factor = p0 * y + p1 * x = 0.005 + 0.015 = 0.02
    r2 = 0.3125
    radial = 1 + 0.1 * r2 + 0.01 * r2**2 + 0.001 * r2**3
    xd = 0.5 * (radial + 0.02) + 0.03 * r2
    yd = 0.25 * (radial + 0.02) + 0.02 * r2
    expected = np.array([1100.0 * xd + 510.0, 1120.0 * yd + 495.0])
    got = project_to_pixels(np.array([1.0, 0.5, 2.0]), cam)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # sanity: distortion changed the point
    assert abs(got[0] - (1100.0 * 0.5 + 510.0)) > 1.0


def test_normalize_screen_corners_and_round_trip() -> None:
    w, h = 1000, 1002
    corners = np.array([[0.0, 0.0], [w, h]])
    n = normalize_screen(corners, w, h)
    np.testing.assert_allclose(n, [[-1.0, -h / w], [1.0, h / w]])
    xy = np.random.default_rng(2).uniform(0, 1000, size=(3, 17, 2))
    np.testing.assert_allclose(denormalize_screen(normalize_screen(xy, w, h), w, h), xy, rtol=1e-12)


def test_normalize_screen_keeps_confidence_and_does_not_mutate() -> None:
    xy = np.array([[[500.0, 250.0, 0.7]]], dtype=np.float32)
    before = xy.copy()
    n = normalize_screen(xy, 1000, 500)
    np.testing.assert_array_equal(xy, before)
    assert n.dtype == np.float32
    np.testing.assert_allclose(n, [[[0.0, 0.0, 0.7]]], atol=1e-7)
    back = denormalize_screen(n, 1000, 500)
    np.testing.assert_allclose(back, xy, atol=1e-4)
    t = normalize_screen(torch.tensor([[1000.0, 500.0, 0.3]]), 1000, 500)
    torch.testing.assert_close(t, torch.tensor([[1.0, 0.5, 0.3]]))
    with pytest.raises(PoseMoEError):
        normalize_screen(np.zeros((3, 1)), 10, 10)


def _write(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path


def test_load_original_and_packaged_formats(tmp_path: Path) -> None:
    cam = make_camera(k=(0.1, 0.0, 0.0), cam_id="54138969")
    original = {"_about": {"what": "test"}, "S1": {"54138969": _camera_json(cam)}}
    packaged = {"format": "posemoe-cameras-v1", "source": "test", "subjects": {"S1": {"54138969": _camera_json(cam)}}}
    for obj in (original, packaged):
        cams = load_h36m_cameras(_write(tmp_path / "c.json", obj))
        assert list(cams) == ["S1"]
        got = cams["S1"]["54138969"]
        assert got.id == "54138969" and got.res_w == 1000 and got.res_h == 1002
        np.testing.assert_array_equal(got.R, cam.R)
        np.testing.assert_array_equal(got.k, cam.k)


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(PoseMoEError, match="nope.json"):
        load_h36m_cameras(missing)
    bad = _write(tmp_path / "bad.json", {"S1": {"54138969": {"R": [[1, 0, 0]]}}})
    with pytest.raises(PoseMoEError) as e:
        load_h36m_cameras(bad)
    assert "bad.json" in str(e.value) and "\n" not in str(e.value)
    cam = _camera_json(make_camera())
    cam["R"] = [[1, 0], [0, 1]]
    wrong_shape = _write(tmp_path / "shape.json", {"S1": {"x": cam}})
    with pytest.raises(PoseMoEError, match=r"shape.json.*R.*\(3, 3\).*\(2, 2\)"):
        load_h36m_cameras(wrong_shape)
    (tmp_path / "syntax.json").write_text("{not json")
    with pytest.raises(PoseMoEError, match="syntax.json"):
        load_h36m_cameras(tmp_path / "syntax.json")
    with pytest.raises(PoseMoEError, match="format"):
        load_h36m_cameras(_write(tmp_path / "fmt.json", {"format": "other", "subjects": {}}))


def test_packaged_calibration_is_complete() -> None:
    cams = load_h36m_cameras()
    assert set(cams) == {"S1", "S5", "S6", "S7", "S8", "S9", "S11"}
    for subject, by_id in cams.items():
        assert tuple(sorted(by_id)) == H36M_CAMERA_IDS
        for cam in by_id.values():
            np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-9)
            assert cam.res_w == 1000 and cam.res_h in (1000, 1002)


@pytest.mark.skipif(not SHARED_CAMERAS.is_file(), reason="shared Human3.6M cameras.json not available")
def test_packaged_calibration_matches_shared_file() -> None:
    packaged = load_h36m_cameras()
    shared = load_h36m_cameras(SHARED_CAMERAS)
    assert packaged.keys() == shared.keys()
    for subject in shared:
        assert packaged[subject].keys() == shared[subject].keys()
        for cid, ref in shared[subject].items():
            got = packaged[subject][cid]
            for field in ("R", "center", "f", "c", "k", "p"):
                # 12 significant digits: relative agreement to 1e-9
                np.testing.assert_allclose(getattr(got, field), getattr(ref, field), rtol=1e-9, atol=1e-12)
            assert (got.res_w, got.res_h) == (ref.res_w, ref.res_h)
    assert SHARED_CAMERAS.read_bytes() != (Path(__file__).resolve().parents[1] / "posemoe" / "resources" / "h36m_cameras.json").read_bytes()
